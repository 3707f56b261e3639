"""What handlers need from the Slack side besides the engine: modals, replies, look-ups.

Handlers stay thin (parse -> one service call -> ack/respond); the Web API calls they
trigger (views.open, views.publish, chat.postEphemeral) and the read-only queries behind
``/incident list`` and the Home tab live here. Texts come from the templates: field errors
from ``errors.j2`` (:mod:`epbot.adapters.slack.refusals`), the rest through ``render``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.db.report_versions import latest_titles
from epbot.adapters.slack import render
from epbot.adapters.slack.client import CallFailure, SlackClient
from epbot.adapters.slack.refusals import field_error
from epbot.domain.incident import (
    ApprovalStatus,
    ReportFields,
    StepStatus,
)
from epbot.domain.playbook import Playbook, Severity
from epbot.services.incidents import incident_number
from epbot.services.ports import Clock

log = logging.getLogger(__name__)

PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
CLOCK_SKEW = timedelta(minutes=2)  # a report's time may be a little ahead of our clock

_TEXT_FIELDS = ("title", "place", "nature", "scope", "trend", "measures")


@dataclass(frozen=True)
class ParsedReport:
    playbook: str
    severity: Severity | None
    report: ReportFields
    drill: bool


def field_value(values: dict[str, Any], name: str) -> Any:
    """The value of one input in ``view.state.values`` (text, select or datetime picker)."""
    element = (values.get(name) or {}).get(name) or {}
    if not element and values.get(name):
        element = next(iter(values[name].values()), {}) or {}
    if "selected_date_time" in element:
        return element["selected_date_time"]
    if "selected_option" in element:
        option = element["selected_option"] or {}
        return option.get("value")
    return element.get("value")


def parse_report(
    view: dict[str, Any], *, now: datetime, locale: str, known: Sequence[str]
) -> ParsedReport | dict[str, str]:
    """The report of a submitted modal, or ``{block_id: error}`` in the user's locale."""
    values = (view.get("state") or {}).get("values") or {}
    meta = json.loads(view.get("private_metadata") or "{}")
    errors: dict[str, str] = {}

    def text(name: str) -> str:
        value = field_value(values, name)
        return str(value).strip() if value is not None else ""

    playbook = str(meta.get("playbook") or text("playbook"))
    if not playbook:
        errors["playbook"] = field_error("required", locale)
    elif playbook not in known:
        errors["playbook"] = field_error("playbook", locale)
    for name in (*_TEXT_FIELDS, "unit", "contact_phone"):
        if not text(name):
            errors[name] = field_error("required", locale)
    phone = text("contact_phone")
    if phone and not PHONE.match(phone):
        errors["contact_phone"] = field_error("phone", locale)
    raw_time = field_value(values, "occurred_at")
    occurred: datetime | None = None
    if raw_time in (None, ""):
        errors["occurred_at"] = field_error("required", locale)
    else:
        occurred = datetime.fromtimestamp(int(raw_time), tz=now.tzinfo)
        if occurred > now + CLOCK_SKEW:
            errors["occurred_at"] = field_error("future", locale)
    if errors or occurred is None:
        return errors
    severity = text("severity")
    return ParsedReport(
        playbook=playbook,
        severity=Severity(severity) if severity in Severity.__members__.values() else None,
        drill=bool(meta.get("drill")),
        report=ReportFields(
            occurred_at=occurred,
            place=text("place"),
            nature=text("nature"),
            scope=text("scope"),
            trend=text("trend"),
            measures=text("measures"),
            unit_id=text("unit"),
            contact_phone=phone,
            title=text("title"),
        ),
    )


def required(locale: str) -> str:
    """"This field is required", in the user's language."""
    return field_error("required", locale)


def read_reason(view: dict[str, Any]) -> str:
    """The text typed into a reason modal (``render.REASON_FIELD``)."""
    value = field_value((view.get("state") or {}).get("values") or {}, render.REASON_FIELD)
    return str(value or "")


def read_assignee(view: dict[str, Any]) -> str | None:
    """The Slack user picked in the reassign modal (``render.ASSIGNEE_FIELD``), if any."""
    values = (view.get("state") or {}).get("values") or {}
    element = (values.get(render.ASSIGNEE_FIELD) or {}).get(render.ASSIGNEE_FIELD) or {}
    picked = element.get("selected_user")
    return str(picked) if picked else None


class Interactions:
    """Slack-side helpers for handlers: all Web API calls go through :class:`SlackClient`."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: SlackClient,
        playbooks: Any,
        clock: Clock,
        tz: ZoneInfo,
    ) -> None:
        self._sessions = make_sessionmaker(engine)
        self.client = client
        self.library = playbooks
        self.clock = clock
        self.tz = tz

    # --- context -----------------------------------------------------------------------

    def playbooks(self) -> tuple[Playbook, ...]:
        return tuple(self.library.current.playbooks)

    def find_playbook(self, name: str) -> Playbook | None:
        found = self.library.current.get(name)
        return found if isinstance(found, Playbook) else None

    async def locale(self, user_id: str) -> str:
        """The user's locale (users.info, cached): call it after ``ack()``."""
        return await self.client.locale(user_id)

    def cached_locale(self, user_id: str) -> str:
        """The user's locale without a Web API call (before ``ack()``): the cached one, else
        the default."""
        return self.client.cached_locale(user_id)

    def ctx(self, locale: str, number: str = "", channel_id: str | None = None) -> Any:
        return render.RenderContext(
            locale=locale, tz=self.tz, now=self.clock.now(), number=number, channel_id=channel_id
        )

    async def actor(self, user_id: str) -> str:
        """The matrix ref of a Slack user (their id, or their email as the matrix has it)."""
        matrix = self.library.current.matrix
        refs = matrix.refs()
        try:
            return await self.client.person_ref(user_id, refs)
        except CallFailure:
            return user_id

    # --- views and replies -------------------------------------------------------------

    async def open_report(
        self, *, trigger_id: str, locale: str, playbook: Playbook | None, drill: bool, channel: str
    ) -> None:
        ctx = self.ctx(locale)
        meta = json.dumps(
            {"playbook": playbook.id if playbook else None, "drill": drill, "channel": channel}
        )
        view = render.report_modal(
            self.playbooks(),
            self.library.current.matrix,
            ctx,
            playbook_id=playbook.id if playbook else None,
            drill=drill,
            private_metadata=meta,
        )
        await self.client.open_view(trigger_id, view)

    def read_report(self, view: dict[str, Any], *, locale: str) -> ParsedReport | dict[str, str]:
        """A submitted report modal checked against our clock and the current playbooks."""
        known = [p.id for p in self.playbooks()]
        return parse_report(view, now=self.clock.now(), locale=locale, known=known)

    async def open_reason(
        self, *, trigger_id: str, locale: str, callback_id: str, meta: dict[str, Any]
    ) -> None:
        ctx = self.ctx(locale, number=str(meta.get("number", "")))
        title = render.label(locale, f"modal.{callback_id}")
        view = render.reason_modal(callback_id, ctx, title=title, private_metadata=json.dumps(meta))
        await self.client.open_view(trigger_id, view)

    async def open_reassign(self, *, trigger_id: str, locale: str, meta: dict[str, Any]) -> None:
        """The user picker for a step's new assignee, preset to the current one."""
        incident_id, step_id = int(meta["incident"]), str(meta["target"])
        matrix = self.library.current.matrix
        async with self._sessions() as session:
            loaded = await repo.load(session, incident_id, matrix)
        row, state = loaded.row, loaded.state
        ctx = self.ctx(locale, incident_number(row.year, row.seq, row.drill))
        step = state.steps.get(step_id)
        try:
            title = state.playbook.step(step_id).title.get(ctx.lang)
        except KeyError:
            title = step_id
        current = None
        if step is not None and step.assignee:
            try:
                current = await self.client.user_id(step.assignee)
            except CallFailure:
                current = None
        view = render.reassign_modal(
            ctx, step_title=title, initial_user=current, private_metadata=json.dumps(meta)
        )
        await self.client.open_view(trigger_id, view)

    async def open_send_report(
        self, *, trigger_id: str, locale: str, meta: dict[str, Any], progress: bool
    ) -> None:
        """The report to send (a report step's, or a 续报), pre-filled from the latest version."""
        from epbot.adapters.db import report_versions
        from epbot.adapters.slack import report_render

        incident_id = int(meta["incident"])
        matrix = self.library.current.matrix
        async with self._sessions() as session:
            loaded = await repo.load(session, incident_id, matrix)
            _, report = await report_versions.current(session, incident_id)
        row, state = loaded.row, loaded.state
        ctx = self.ctx(locale, incident_number(row.year, row.seq, row.drill), row.channel_id)
        step = str(meta.get("target") or "") or None
        meta = {**meta, "step": step, "progress": progress, "playbook": state.playbook.id}
        view = report_render.send_report_modal(
            state,
            report,
            matrix,
            ctx,
            step_id=step,
            progress=progress,
            private_metadata=json.dumps(meta),
        )
        await self.client.open_view(trigger_id, view)

    def read_sent_report(
        self, view: dict[str, Any], *, locale: str
    ) -> tuple[ReportFields, dict[str, str] | None] | dict[str, str]:
        """A submitted send-report modal: (report, 续报 fields) or ``{block_id: error}``."""
        from epbot.adapters.slack import report_render

        parsed = self.read_report(view, locale=locale)
        values = (view.get("state") or {}).get("values") or {}
        progress = report_render.read_progress(values)
        errors = dict(parsed) if isinstance(parsed, dict) else {}
        errors.pop("playbook", None)
        for name in report_render.missing_progress(progress):
            errors[name] = required(locale)
        if errors or isinstance(parsed, dict):
            return errors or {"title": required(locale)}
        return parsed.report, progress

    async def tell(self, *, user_id: str, channel: str | None, text: str) -> None:
        """An ephemeral reply in ``channel``; a DM when the bot cannot post there."""
        if channel:
            try:
                await self.client.post_ephemeral(channel, user_id, text)
                return
            except CallFailure as exc:
                log.info("ephemeral in %s failed (%s); sending a DM", channel, exc.error)
        await self.client.post_message(user_id, text)

    async def publish_home(self, user_id: str, *, actor: str, locale: str) -> None:
        """The Home tab of ``user_id`` (matrix ref ``actor``): their steps and approvals."""
        ref, ctx = actor, self.ctx(locale)
        steps: list[tuple[render.IncidentRef, str, Any]] = []
        approvals: list[tuple[render.IncidentRef, Any]] = []
        incidents = await self.open_incidents()
        for incident in incidents:
            state = incident.state
            for step in state.steps.values():
                if step.assignee == ref and step.status in (
                    StepStatus.OPEN,
                    StepStatus.AWAITING_APPROVAL,
                ):
                    title = state.playbook.step(step.step_id).title.get(ctx.locale)
                    steps.append((incident, title, step))
            for approval in state.approvals.values():
                if approval.status is ApprovalStatus.PENDING and ref in state.members(
                    approval.approver_role
                ):
                    approvals.append((incident, approval))
        view = render.home_view(steps=steps, approvals=approvals, incidents=incidents, ctx=ctx)
        await self.client.publish_home(user_id, view)

    # --- queries -----------------------------------------------------------------------

    async def incident_in_channel(self, channel_id: str) -> int | None:
        async with self._sessions() as session:
            row = (
                await session.exec(
                    select(m.Incident).where(col(m.Incident.channel_id) == channel_id)
                )
            ).one_or_none()
            return row.id if row is not None else None

    async def open_incidents(self) -> list[render.IncidentRef]:
        """The open incidents, oldest first, each with its channel and its title."""
        matrix = self.library.current.matrix
        found = []
        async with self._sessions() as session:
            opened = await repo.load_open(session, matrix)  # one query per table
            titles = await latest_titles(session, [o.row.id for o in opened if o.row.id])
            for loaded in opened:
                row = loaded.row
                title = titles.get(row.id or 0, "")
                number = incident_number(row.year, row.seq, row.drill)
                found.append(
                    render.IncidentRef(number, loaded.state, row.channel_id, title)
                )
        return found

    async def incident_summary(self, incident_id: int, locale: str) -> str:
        """The incident card's text, for ``/incident status``."""
        matrix = self.library.current.matrix
        async with self._sessions() as session:
            loaded = await repo.load(session, incident_id, matrix)
            report = await repo.latest_report(session, incident_id)
        row = loaded.row
        ctx = self.ctx(
            locale, incident_number(row.year, row.seq, row.drill), channel_id=row.channel_id
        )
        fields = ReportFields(
            occurred_at=report.occurred_at,
            place=report.place,
            nature=report.nature,
            scope=report.scope,
            trend=report.trend,
            measures=report.measures,
            unit_id=report.unit_id,
            contact_phone=report.contact_phone,
            title=report.title,
        )
        text, _ = render.incident_card(loaded.state, fields, ctx)
        return str(text)
