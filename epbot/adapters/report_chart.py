"""The report's timeline chart: stages and deadlines on a time axis, as an inline SVG.

Drawn by hand because it is a handful of rectangles and ticks; every text is XML-escaped.
WeasyPrint lays inline SVG out in the PDF as vectors, with the same fonts as the page.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from epbot.domain.reports import Outcome

if TYPE_CHECKING:
    from epbot.adapters.report_files import Words
    from epbot.services.reports import IncidentRecord

WIDTH = 720
LEFT = 200  # label column
RIGHT = 16
ROW = 18
TOP = 24
MAX_ROWS = 24
STAGE_COLOURS = ("#9ec5fe", "#a3cfbb", "#ffda6a", "#f1aeb5")
COLOURS = {
    Outcome.ON_TIME: "#198754",
    Outcome.LATE: "#fd7e14",
    Outcome.MISSED: "#dc3545",
}


def _short(text: str, limit: int = 16) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timeline_svg(record: IncidentRecord, words: Words) -> str:
    """Stages as bands, then one row per step with a deadline: due tick, done dot."""
    start = record.state.declared_at
    moments = [record.end] + [
        t for s in record.steps for t in (s.due_at, s.done_at) if t is not None
    ]
    finish = max(moments + [start + timedelta(minutes=5)])
    span = (finish - start).total_seconds() * 1.04
    inner = WIDTH - LEFT - RIGHT

    def x(at: datetime) -> float:
        return round(LEFT + inner * max(0.0, (at - start).total_seconds()) / span, 1)

    rows = [s for s in record.steps if s.due_at is not None][:MAX_ROWS]
    height = TOP + ROW * (len(rows) + 2) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" font-size="10">'
    ]
    # the time axis: six ticks, local clock time
    axis_y = TOP + ROW * (len(rows) + 1) + 6
    for n in range(6):
        at = start + timedelta(seconds=span * n / 5)
        px = x(at)
        parts.append(
            f'<line x1="{px}" y1="{TOP - 6}" x2="{px}" y2="{axis_y}" stroke="#ddd"/>'
            f'<text x="{px}" y="{axis_y + 12}" text-anchor="middle">'
            f"{escape(at.astimezone(words.tz).strftime('%H:%M'))}</text>"
        )
    # stages
    y = TOP
    parts.append(f'<text x="4" y="{y + 12}">{escape(words.R["chart.stages"])}</text>')
    for n, stage in enumerate(_stages(record)):
        x0, x1 = x(stage[1]), x(stage[2])
        colour = STAGE_COLOURS[n % len(STAGE_COLOURS)]
        parts.append(
            f'<rect x="{x0}" y="{y}" width="{max(1.0, x1 - x0)}" height="{ROW - 4}" '
            f'fill="{colour}"><title>{escape(words.stage(stage[0]))}</title></rect>'
            f'<text x="{x0 + 2}" y="{y + 11}" font-size="8">'
            f"{escape(_short(words.stage(stage[0]), 8))}</text>"
        )
    # one row per step with a deadline
    for step in rows:
        y += ROW
        assert step.due_at is not None
        parts.append(f'<text x="4" y="{y + 12}">{escape(_short(words.step(step.step_id)))}</text>')
        due = x(step.due_at)
        colour = COLOURS.get(step.outcome, "#6c757d")
        if step.outcome is Outcome.MISSED:
            parts.append(
                f'<line x1="{due}" y1="{y + 7}" x2="{x(record.end)}" y2="{y + 7}" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
        parts.append(
            f'<line x1="{due}" y1="{y}" x2="{due}" y2="{y + ROW - 4}" stroke="#dc3545" '
            f'stroke-width="2"/>'
        )
        if step.done_at is not None:
            parts.append(f'<circle cx="{x(step.done_at)}" cy="{y + 7}" r="4" fill="{colour}"/>')
    # legend
    ly = axis_y + 26
    legend = [
        ('<line x1="0" y1="-8" x2="0" y2="2" stroke="#dc3545" stroke-width="2"/>', "chart.due"),
        (f'<circle cx="0" cy="-3" r="4" fill="{COLOURS[Outcome.ON_TIME]}"/>', "outcome.on_time"),
        (f'<circle cx="0" cy="-3" r="4" fill="{COLOURS[Outcome.LATE]}"/>', "outcome.late"),
        (
            f'<line x1="-6" y1="-3" x2="6" y2="-3" stroke="{COLOURS[Outcome.MISSED]}" '
            'stroke-width="3"/>',
            "outcome.missed",
        ),
    ]
    for n, (mark, key) in enumerate(legend):
        lx = LEFT + n * 120
        parts.append(
            f'<g transform="translate({lx},{ly})">{mark}'
            f'<text x="10" y="0">{escape(words.R[key])}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _stages(record: IncidentRecord) -> list[tuple[str, datetime, datetime]]:
    from epbot.domain.playbook import STAGE_ORDER

    started = [(s, record.state.stages[s]) for s in STAGE_ORDER if s in record.state.stages]
    out = []
    for n, (stage, at) in enumerate(started):
        until = started[n + 1][1] if n + 1 < len(started) else record.end
        out.append((stage.value, at, until))
    return out
