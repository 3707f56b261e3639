"""The drill scorecard on a scripted drill: exact figures, the comparison with the previous
run, and where it is shown (closing report, exported report)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from epbot.adapters.clock import FakeClock
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.adapters.report_files import render_incident
from epbot.adapters.slack import render
from epbot.services.incidents import IncidentService
from epbot.services.reports import load_record
from tests.reports.script import scripted_incident
from tests.services.conftest import START, report

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60

# (step, met, margin in seconds): negative = early. The script does the steps in playbook
# order from +26 min on, one a minute; start-unit-plan is skipped (no deadline to meet).
DEADLINES = [
    ("report-office", True, -2 * MIN),  # due +5, done +3
    ("report-leadership", False, 5 * MIN),  # due +15, done +20
    ("contain", True, -4 * MIN),  # due +30, done +26
    ("report-upward", True, -3 * MIN),
    ("locate-cause", True, -2 * MIN),
    ("fix-fault", True, -59 * MIN),  # due 1 h after locate-cause (+28), done +29
    ("approve-emergency-response", True, -20 * MIN),  # due +30, approved at +10
    ("start-plan", False, 6 * MIN),  # due 15 min after the stage starts (+10), done +31
    ("project-manager-support", True, -8 * MIN),
    ("convene-experts", True, -59 * MIN),  # stage started +32, due 1 h later, done +33
    ("handling-plan", True, -118 * MIN),
    ("onsite-command", True, -57 * MIN),
    ("progress-report", True, -56 * MIN),
]


async def test_scorecard_figures_and_comparison(
    service: IncidentService, clock: FakeClock, library: PlaybookLibrary
) -> None:
    first = await scripted_incident(service, clock, drill=True)
    rec = await load_record(service.store, "DRILL-2026-0001", matrix=library.matrix, now=START)
    card = rec.scorecard
    assert [(d.step_id, d.met, d.margin_seconds) for d in card.deadlines] == DEADLINES
    assert (card.met, card.missed) == (11, 2)
    assert [(a.role, a.seconds, a.attempts, a.acked_by) for a in card.acks] == [
        ("emergency-office", 2 * MIN, 1, "U01EOF0001"),
        ("it-lead", 11 * MIN, 1, "U01UIT0001"),
        ("onsite-staff", 11 * MIN, 1, "U02INS0002"),
        ("project-manager", 11 * MIN, 1, "U02INS0001"),
        ("leadership-group", 11 * MIN, 1, "U01LDR0001"),
    ]
    assert [(a.kind, a.status, a.seconds, a.decided_by) for a in card.approvals] == [
        ("escalation", "approved", 4 * MIN, "U01LDR0001")
    ]
    assert [(r.step_id, r.seconds) for r in card.receipts] == [
        ("report-office", 3 * MIN),
        ("report-leadership", 20 * MIN),
        ("report-upward", 27 * MIN),
        ("report-project-manager", 30 * MIN),
        ("progress-report", 36 * MIN),
    ]
    assert card.skipped == ["start-unit-plan"]
    assert card.duration_seconds == 37 * MIN
    assert rec.previous is None

    # The next run a week later: faster to acknowledge, the 15-minute report on time.
    await scripted_incident(
        service,
        clock,
        at=START + timedelta(days=7),
        drill=True,
        ack_after=timedelta(minutes=1),
        leadership_after=timedelta(minutes=10),
    )
    rec = await load_record(service.store, "DRILL-2026-0002", matrix=library.matrix, now=START)
    assert rec.previous is not None
    assert rec.previous.number == "DRILL-2026-0001"
    changes = {c.name: (c.now, c.before, c.delta) for c in rec.changes}
    assert changes["deadlines_met"] == (12, 11, 1)
    assert changes["deadlines_missed"] == (1, 2, -1)
    assert changes["steps_skipped"] == (1, 1, 0)
    assert changes["duration_seconds"] == (37 * MIN, 37 * MIN, 0)
    assert changes["ack:emergency-office"] == (1 * MIN, 2 * MIN, -1 * MIN)
    assert changes["ack:it-lead"] == (11 * MIN, 11 * MIN, 0)
    assert changes["approval:approve-emergency-response"] == (4 * MIN, 4 * MIN, 0)
    assert first != rec.row.id

    md = render_incident(rec, "md", locale="zh-CN", tz=TZ, matrix=library.matrix).decode()
    assert "## 演练评分" in md
    assert "**时限**: 12 达标, 1 未达标" in md
    assert "与上次演练对比（DRILL-2026-0001，2026-11-24 09:00:00）" in md
    assert "| 确认用时：应急办公室 | 1分00秒 | 2分00秒 | -1分00秒 |" in md
    en = render_incident(rec, "md", locale="en", tz=TZ, matrix=library.matrix).decode()
    assert "| Deadlines met | 12 | 11 | +1 |" in en
    assert "| 经批准后启动相应应急预案 |" not in en


async def test_closing_report_of_a_drill_shows_its_scorecard(
    service: IncidentService, clock: FakeClock
) -> None:
    iid = await scripted_incident(service, clock, drill=True)
    state = await service.state(iid)
    for locale, expected in (
        ("en", ["*Drill scorecard* — deadlines: 11 met, 2 missed", "receipts: 5"]),
        ("zh-CN", ["*演练评分* — 时限：达标 11 个，未达标 2 个", "回执：5 份"]),
    ):
        ctx = render.RenderContext(locale=locale, tz=TZ, now=clock.now(), number="DRILL-2026-0001")
        text = render.closing_report(state, report(), [], ctx)
        for line in expected:
            assert line in text


async def test_unit_receipts_of_a_notice(
    service: IncidentService, clock: FakeClock, library: PlaybookLibrary
) -> None:
    from tests.reports.script import COMMANDER
    from tests.services.conftest import key

    clock.set(START)
    iid = (
        await service.declare(
            key=key(),
            playbook="db-crash",
            severity=None,
            report=report(),
            reporter="U09REPORTER",
            drill=True,
        )
    ).incident_id
    await service.acknowledge_page(
        key=key(), incident_id=iid, page="emergency-office#1", actor=COMMANDER
    )
    clock.set(START + timedelta(minutes=4))
    await service.complete_step(key=key(), incident_id=iid, step="pause-uploads", actor=COMMANDER)
    clock.set(START + timedelta(minutes=10))
    await service.confirm_receipt(
        key=key(), incident_id=iid, target="pause-uploads@user-it", actor="U01UIT0001"
    )
    rec = await load_record(service.store, "DRILL-2026-0001", matrix=library.matrix, now=START)
    receipts = {r.unit_id: r for r in rec.scorecard.unit_receipts}
    assert len(receipts) == len([u for u in library.matrix.units if u.channel])
    assert rec.scorecard.unit_receipts_confirmed == 1
    mine = receipts["user-it"]
    assert (mine.seconds, mine.on_time, mine.confirmed_by) == (6 * MIN, True, "U01UIT0001")
    md = render_incident(rec, "md", locale="zh-CN", tz=TZ, matrix=library.matrix).decode()
    assert "**各单位回执（通知确认）**: 1 / " in md
    row = "| 用户信息化部门 | 2026-11-24 09:04:00 | 2026-11-24 09:34:00 | 2026-11-24 09:10:00"
    assert row in md
    assert "未确认" in md
