"""`epbot report incident|summary`: after-action reports and figures as files.

Bad input (an unknown incident, a date that is not one, a format we do not write) is one line
on stderr and exit status 1, so scripts can tell it from a crash.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from epbot.adapters.clock import SystemClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.store import SqlStore
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.report_files import (
    INCIDENT_FORMATS,
    SUMMARY_FORMATS,
    render_incident,
    render_summary,
)
from epbot.config import Settings
from epbot.domain.reports import summarize
from epbot.services.reports import UnknownIncident, incident_figures, load_record

EXIT_BAD_INPUT = 1


class BadInput(Exception):
    """Something the person typed that we cannot use; the message says what and why."""


def parse_when(text: str, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    """``2026-11-30`` (a day in the configured zone) or an ISO 8601 date and time."""
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None and len(value) == 10:
        start = datetime.combine(day, time(0), tzinfo=tz)
        return start + timedelta(days=1) if end_of_day else start
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz)


def _library(settings: Settings) -> PlaybookLibrary:
    from epbot.wiring import load_library  # the same start-up check as `epbot serve`

    return load_library(settings)


def _fail(message: str) -> int:
    sys.stderr.write(f"epbot: {message}\n")
    return EXIT_BAD_INPUT


def _write(data: bytes, output: str | None, out: TextIO, default_name: str | None) -> None:
    target = output or default_name
    if target is None or target == "-":
        out.write(data.decode())
        return
    Path(target).write_bytes(data)
    out.write(f"wrote {target} ({len(data)} bytes)\n")


def report_incident(
    settings: Settings, incident: str, fmt: str, output: str | None, out: TextIO
) -> int:
    if fmt not in INCIDENT_FORMATS:
        return _fail(f"unknown format {fmt!r}: use one of {', '.join(INCIDENT_FORMATS)}")
    library = _library(settings)

    async def run() -> tuple[str, bytes]:
        engine = make_engine(settings.database_url)
        try:
            record = await load_record(
                SqlStore(engine), incident, matrix=library.matrix, now=SystemClock().now()
            )
        finally:
            await engine.dispose()
        data = render_incident(
            record, fmt, locale=settings.locale, tz=settings.tz, matrix=library.matrix
        )
        return record.number, data

    try:
        number, data = asyncio.run(run())
    except UnknownIncident as exc:
        return _fail(str(exc))
    _write(data, output, out, f"{number}.pdf" if fmt == "pdf" else None)
    return 0


def report_summary(
    settings: Settings,
    since: str | None,
    until: str | None,
    fmt: str,
    output: str | None,
    out: TextIO,
) -> int:
    if fmt not in SUMMARY_FORMATS:
        return _fail(f"unknown format {fmt!r}: use one of {', '.join(SUMMARY_FORMATS)}")
    try:
        start = parse_when(since, settings.tz) if since else None
        end = parse_when(until, settings.tz, end_of_day=True) if until else None
    except BadInput as exc:
        return _fail(str(exc))
    if start and end and end <= start:
        return _fail(f"--until ({until}) is not after --since ({since})")
    library = _library(settings)

    async def run() -> bytes:
        engine = make_engine(settings.database_url)
        try:
            figures = await incident_figures(
                SqlStore(engine),
                matrix=library.matrix,
                now=SystemClock().now(),
                since=start,
                until=end,
            )
        finally:
            await engine.dispose()
        titles = {p.id: p.title.get(settings.locale) for p in library.playbooks()}
        return render_summary(
            summarize(figures),
            fmt,
            locale=settings.locale,
            tz=settings.tz,
            matrix=library.matrix,
            playbook_titles=titles,
            since=start,
            until=end,
        )

    _write(asyncio.run(run()), output, out, None)
    return 0
