"""The shipped db-crash playbook and a clock that jumps, as the sandbox's fast-forward does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.domain import incident as dom
from epbot.domain.playbook import Severity

T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
M = timedelta(minutes=1)
PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
CURRENT = PlaybookLibrary(PLAYBOOKS).load()
OUTSIDER = "U09REPORTER"  # holds no role in the shipped matrix
OFFICE = ("U01EOF0001", "U01EOF0002")
LEADER = ("U01LDR0001", "U01LDR0002")

REPORT = dom.ReportFields(
    occurred_at=T0,
    place="server room",
    nature="fault",
    scope="all units",
    trend="worsening",
    measures="none yet",
    unit_id="user-it",
    contact_phone="022-2630-0101",
    title="database down",
)


def db_crash(
    reporter: str = OUTSIDER, severity: Severity = Severity.II, *, playbook_id: str = "db-crash"
) -> tuple[dom.IncidentState, list[dom.Event]]:
    """A shipped playbook's incident (db-crash unless ``playbook_id`` says otherwise)."""
    playbook = CURRENT.get(playbook_id)
    assert playbook is not None
    return dom.declare(
        playbook=playbook,
        matrix=CURRENT.matrix,
        severity=severity,
        report=REPORT,
        reporter=reporter,
        drill=False,
        now=T0,
    )


def ack_all(state: dom.IncidentState, now: datetime, *, but: tuple[str, ...] = ()) -> None:
    """Every role paged so far is acknowledged by its person, except the roles in ``but``."""
    for page in list(state.pages):
        answered = any(p.role == page.role and p.acked_at for p in state.pages)
        if page.role not in but and not answered:
            dom.decide(state, dom.AcknowledgePage(page.person, page.key), now)


def tick(state: dom.IncidentState, now: datetime) -> list[dom.Event]:
    """What the service's tick does at ``now``: claim every due timer (a claimed row is no
    longer live), fire the claimed ones in due order, all at ``now``; again until none is due."""
    events: list[dom.Event] = []
    while True:
        due = sorted(
            (t for t in state.timers if t.live and t.due_at <= now), key=lambda t: t.due_at
        )
        if not due:
            return events
        for timer in due:
            timer.fired_at = now
        for timer in due:
            command = dom.FireTimer(None, timer.kind, timer.target, timer.due_at)
            events += dom.decide(state, command, now)


def minute_by_minute(state: dom.IncidentState, start: datetime, minutes: int) -> list[dom.Event]:
    events: list[dom.Event] = []
    for m in range(1, minutes + 1):
        events += tick(state, start + m * M)
    return events


def of(events: list[dom.Event], kind: dom.EventKind) -> list[dom.Event]:
    return [e for e in events if e.kind is kind]
