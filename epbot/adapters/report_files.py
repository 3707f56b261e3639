"""After-action reports as files: JSON, Markdown, HTML and PDF, in the configured locale.

Markdown and HTML come from Jinja2 templates (``templates/<locale>/report_*.j2``); the PDF is
the HTML template laid out by WeasyPrint, with the CJK font embedded, so the paper and the
screen say the same thing. The chart is an inline SVG drawn by ``report_chart``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from epbot.adapters.report_chart import timeline_svg
from epbot.adapters.slack.render import label
from epbot.adapters.slack.render.vocabulary import (
    role_name,
    severity_name,
    stage_title,
    step_title,
    unit_name,
)
from epbot.domain.incident import SYSTEM, IncidentState, page_attempt, page_status
from epbot.domain.matrix import Matrix
from epbot.domain.playbook import STAGE_ORDER
from epbot.domain.reports import SummaryRow
from epbot.services.reports import IncidentRecord

INCIDENT_FORMATS = ("md", "json", "pdf", "html")
SUMMARY_FORMATS = ("json", "md", "csv")


class ReportFormatError(ValueError):
    pass


@functools.cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("epbot", "adapters/templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md_cell
    return env


def _md_cell(value: Any) -> str:
    """A value safe in a Markdown table cell: pipes escaped, one line."""
    text = "" if value is None else str(value)
    return " ".join(text.replace("\\", "\\\\").replace("|", "\\|").split())


def _lang(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "zh-CN"


@functools.cache
def report_labels(locale: str) -> dict[str, str]:
    """The report's own words (``templates/<locale>/report_labels.j2``)."""
    module = _env().get_template(f"{_lang(locale)}/report_labels.j2").module
    labels: dict[str, str] = module.labels  # type: ignore[attr-defined]
    return labels


class Words:
    """Names and formats for templates: roles, steps, stages, people, times, durations."""

    def __init__(self, locale: str, tz: ZoneInfo, matrix: Matrix, state: IncidentState | None):
        self.lang, self.tz, self.matrix, self.state = _lang(locale), tz, matrix, state
        self.R = report_labels(locale)

    def vars(self) -> dict[str, Any]:
        return {
            "R": self.R,
            "L": lambda key: label(self.lang, key),
            "t": self.time,
            "dur": self.duration,
            "late": self.late,
            "role": self.role,
            "step": self.step,
            "stage": self.stage,
            "unit": self.unit,
            "who": self.person,
            "sev": self.severity,
            "status": lambda v: label(self.lang, f"status.{v}"),
            "outcome": lambda v: self.R[f"outcome.{v}"],
            "kind": lambda v: self.R.get(f"event.{v}", v),
            "pct": self.percent,
        }

    def time(self, value: datetime | None) -> str:
        return "—" if value is None else value.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")

    def duration(self, seconds: float | None) -> str:
        """Exact: ``1 h 05 min 30 s`` / ``1小时05分30秒``; no rounding, figures are compared."""
        if seconds is None:
            return "—"
        sign = "-" if seconds < 0 else ""
        total = abs(round(seconds))
        hours, rest = divmod(total, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return sign + self.R["hms"].format(h=hours, m=minutes, s=secs)
        if minutes:
            return sign + self.R["ms"].format(m=minutes, s=secs)
        return sign + self.R["s"].format(s=secs)

    def late(self, seconds: float | None) -> str:
        """A deadline margin: "early by 2 min 00 s" or "late by 30 s"."""
        if seconds is None:
            return "—"
        key = "late_by" if seconds > 0 else "early_by"
        return self.R[key].format(d=self.duration(abs(seconds)))

    def percent(self, share: float | None) -> str:
        return "—" if share is None else f"{share * 100:.1f}%"

    def role(self, role_id: str | None) -> str:
        return role_name(self.matrix, role_id, self.lang) if role_id else "—"

    def step(self, step_id: str | None) -> str:
        if not step_id or self.state is None:
            return step_id or "—"
        return step_title(self.state.playbook, step_id, self.lang)

    def stage(self, stage_id: str | None) -> str:
        if not stage_id:
            return "—"
        if self.state is not None:
            title = stage_title(self.state.playbook, stage_id, self.lang)
            if title is not None:
                return title
        return label(self.lang, f"stage.{stage_id}")

    def unit(self, unit_id: str | None) -> str:
        return unit_name(self.matrix, unit_id, self.lang) if unit_id else "—"

    def person(self, ref: str | None) -> str:
        if not ref:
            return "—"
        if ref == SYSTEM:
            return self.R["system"]
        name = self.matrix.person(ref).name
        return f"{name} ({ref})" if name else ref

    def severity(self, value: str | None) -> str:
        if not value:
            return "—"
        return severity_name(value, self.lang) or value


def _stages(record: IncidentRecord) -> list[dict[str, Any]]:
    started = [(s, record.state.stages[s]) for s in STAGE_ORDER if s in record.state.stages]
    out = []
    for n, (stage, at) in enumerate(started):
        until = started[n + 1][1] if n + 1 < len(started) else record.end
        out.append({"id": stage.value, "started_at": at, "ended_at": until})
    return out


def _broadcasts(record: IncidentRecord) -> list[dict[str, Any]]:
    return [
        {
            "at": e["at"],
            "actor": e["actor"],
            "step": e["data"].get("step"),
            "units": e["data"].get("units", []),
        }
        for e in record.events
        if e["kind"] == "broadcast"
    ]


def _plain(value: Any) -> Any:
    """JSON-ready: dataclasses as dicts, datetimes as ISO 8601 UTC, enums as values."""
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def anchor_line(record: IncidentRecord, locale: str) -> str:
    """The audit anchor as one line that ``epbot audit verify --anchor`` reads back."""
    a = record.anchor
    return report_labels(locale)["anchor_line"].format(number=a.number, n=a.entries, head=a.head)


@dataclass(frozen=True)
class SlackUpload:
    """How the PDF is shared in the incident channel: its file name, title and comment."""

    filename: str
    title: str
    comment: str  # ends with the anchor line, so Slack's record of the channel pins the chain


def slack_upload(
    record: IncidentRecord, locale: str, tz: ZoneInfo, matrix: Matrix, now: datetime
) -> SlackUpload:
    """The file name, title and comment of ``/incident report``'s upload, in ``locale``."""
    words = Words(locale, tz, matrix, record.state)
    title = f"{words.R['drill_title' if record.state.drill else 'title']} {record.number}"
    comment = words.R["slack.comment"].format(title=title, at=words.time(now))
    return SlackUpload(
        filename=f"{record.number}.pdf",
        title=title,
        comment=f"{comment}\n`{anchor_line(record, locale)}`",
    )


def incident_context(
    record: IncidentRecord, locale: str, tz: ZoneInfo, matrix: Matrix
) -> dict[str, Any]:
    """What the templates (and the JSON) are given about one incident."""
    state, row = record.state, record.row
    words = Words(locale, tz, matrix, state)
    return {
        **words.vars(),
        "record": record,
        "number": record.number,
        "playbook_title": state.playbook.title.get(words.lang),
        "state": state,
        "row": row,
        "reports": record.reports,
        "stages": _stages(record),
        "steps": record.steps,
        "pages": state.pages,
        "page_status": lambda p: page_status(state, p).value,
        "page_attempt": lambda p: page_attempt(state, p),
        "approvals": list(state.approvals.values()),
        "receipts": record.scorecard.receipts,
        "broadcasts": _broadcasts(record),
        "events": record.events,
        "card": record.scorecard,
        "previous": record.previous,
        "changes": record.changes,
        "anchor": anchor_line(record, locale),
        "chain_ok": record.chain_problem is None,
        "problem": record.chain_problem,
    }


def incident_json(record: IncidentRecord, locale: str, tz: ZoneInfo, matrix: Matrix) -> str:
    state, row = record.state, record.row
    words = Words(locale, tz, matrix, state)
    card = record.scorecard
    data = {
        "number": record.number,
        "locale": words.lang,
        "title": row.title,
        "playbook": {"id": state.playbook.id, "title": state.playbook.title.get(words.lang)},
        "severity": state.severity.value,
        "status": state.status.value,
        "drill": state.drill,
        "drill_id": record.drill_id,
        "channel": {"id": row.channel_id, "name": row.channel_name},
        "reporter": state.reporter,
        "commander": state.commander,
        "declared_at": state.declared_at,
        "resolved_at": state.resolved_at,
        "closed_at": state.closed_at,
        "cancelled_at": state.cancelled_at,
        "cancel_reason": state.cancel_reason,
        "reports": [asdict(r) for r in record.reports],
        "stages": _stages(record),
        "steps": [{**asdict(s), "title": words.step(s.step_id)} for s in record.steps],
        "pages": [
            asdict(p)
            | {
                "key": p.key,
                "status": page_status(state, p).value,
                "chain_attempt": page_attempt(state, p),
            }
            for p in state.pages
        ],
        "approvals": [asdict(a) for a in state.approvals.values()],
        "receipts": card.receipts,
        "broadcasts": _broadcasts(record),
        "timeline": [
            {
                "seq": e.seq,
                "at": e.at,
                "actor": e.actor,
                "kind": e.kind,
                "data": json.loads(e.payload),
                "hash": e.hash,
            }
            for e in record.timeline
        ],
        "scorecard": {
            "deadlines_met": card.met,
            "deadlines_missed": card.missed,
            **asdict(card),
        },
        "previous_run": (
            None
            if record.previous is None
            else {
                "number": record.previous.number,
                "declared_at": record.previous.declared_at,
                "changes": [asdict(c) | {"delta": c.delta} for c in record.changes],
            }
        ),
        "audit": {
            "entries": record.anchor.entries,
            "head": record.anchor.head,
            "intact": record.chain_problem is None,
            "problem": None if record.chain_problem is None else asdict(record.chain_problem),
            "anchor": anchor_line(record, locale),
        },
    }
    return json.dumps(_plain(data), ensure_ascii=False, indent=2) + "\n"


def render_incident_text(name: str, context: dict[str, Any]) -> str:
    return _env().get_template(name).render(**context)


def incident_html(record: IncidentRecord, locale: str, tz: ZoneInfo, matrix: Matrix) -> str:
    context = incident_context(record, locale, tz, matrix)
    words = Words(locale, tz, matrix, record.state)
    context["chart"] = Markup(timeline_svg(record, words))  # built from escaped parts
    return render_incident_text("report/incident.html.j2", context)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # imported late: Pango is only needed for PDFs

    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)


def render_incident(
    record: IncidentRecord, fmt: str, *, locale: str, tz: ZoneInfo, matrix: Matrix
) -> bytes:
    """The report in ``fmt`` (md, json, html, pdf) as bytes to write."""
    if fmt == "json":
        return incident_json(record, locale, tz, matrix).encode()
    if fmt == "md":
        context = incident_context(record, locale, tz, matrix)
        return (render_incident_text("report/incident.md.j2", context).strip() + "\n").encode()
    if fmt == "html":
        return incident_html(record, locale, tz, matrix).encode()
    if fmt == "pdf":
        return html_to_pdf(incident_html(record, locale, tz, matrix))
    raise ReportFormatError(f"unknown format {fmt!r}: use one of {', '.join(INCIDENT_FORMATS)}")


# --- the summary --------------------------------------------------------------------------


def _summary_dict(row: SummaryRow) -> dict[str, Any]:
    return {
        "drill": row.drill,
        "playbook": row.playbook,
        "severity": row.severity,
        "count": row.count,
        "first_ack_median_seconds": row.first_ack_median,
        "first_ack_p90_seconds": row.first_ack_p90,
        "resolved": row.resolved,
        "resolve_median_seconds": row.resolve_median,
        "resolve_p90_seconds": row.resolve_p90,
        "deadlines_met": row.deadlines_met,
        "deadlines_total": row.deadlines_total,
        "deadlines_met_share": row.deadlines_share,
        "major_count": row.major_count,
        "major_reported_in_15_min": row.major_on_time,
        "major_15_min_share": row.major_share,
    }


def render_summary(
    rows: Sequence[SummaryRow],
    fmt: str,
    *,
    locale: str,
    tz: ZoneInfo,
    matrix: Matrix,
    playbook_titles: dict[str, str],
    since: datetime | None,
    until: datetime | None,
) -> bytes:
    """The figures across incidents in ``fmt`` (json, md, csv)."""
    if fmt == "json":
        data = {
            "since": since,
            "until": until,
            "real": [_summary_dict(r) for r in rows if not r.drill],
            "drills": [_summary_dict(r) for r in rows if r.drill],
        }
        return (json.dumps(_plain(data), ensure_ascii=False, indent=2) + "\n").encode()
    if fmt == "csv":
        out = io.StringIO()
        fields = list(_summary_dict(rows[0]) if rows else _summary_dict(_EMPTY))
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow(_summary_dict(r))
        return out.getvalue().encode()
    if fmt == "md":
        words = Words(locale, tz, matrix, None)
        text = (
            _env()
            .get_template("report/summary.md.j2")
            .render(
                **words.vars(),
                real=[r for r in rows if not r.drill],
                drills=[r for r in rows if r.drill],
                titles=playbook_titles,
                since=since,
                until=until,
            )
        )
        return (text.strip() + "\n").encode()
    raise ReportFormatError(f"unknown format {fmt!r}: use one of {', '.join(SUMMARY_FORMATS)}")


_EMPTY = SummaryRow(False, "", "", 0, None, None, None, None, 0, 0, 0, 0, 0)
