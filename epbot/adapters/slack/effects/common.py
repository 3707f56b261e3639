"""What the effects of every audience share: the incident as one delivery sees it (its
current state, report and message refs), remembering what was posted, and the render
context (people named by e-mail resolved to Slack users)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from epbot.adapters.db import models as m
from epbot.adapters.db import outbox
from epbot.adapters.db import repository as repo
from epbot.adapters.db.engine import make_sessionmaker
from epbot.adapters.slack import render
from epbot.adapters.slack.client import CallFailure, SlackClient, all_or_first_failure
from epbot.domain.audience import AudienceKind
from epbot.domain.incident import IncidentState, ReportFields
from epbot.services.incidents import incident_number
from epbot.services.ports import Clock, PlaybookSource

log = logging.getLogger(__name__)

Event = dict[str, Any]
# What a room batch leaves to the incident's other lanes: lane kind -> the row's payload.
HandOvers = dict[AudienceKind, Event]


@dataclass
class Room:
    """What one delivery needs: the incident, its current state, report and message refs."""

    row: m.Incident
    state: IncidentState
    report: ReportFields
    refs: dict[str, m.MessageRef]
    number: str
    posted: set[str] = field(default_factory=set)  # refs posted by this batch, as rendered
    invites: set[str] = field(default_factory=set)  # users to invite at the end of the batch
    edited: set[tuple[str, str]] = field(default_factory=set)  # (channel, ts) edited already

    @property
    def id(self) -> int:
        assert self.row.id is not None
        return self.row.id


class EffectsBase:
    """The Slack client, the settings messages are rendered with, and the database."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        client: SlackClient,
        playbooks: PlaybookSource,
        clock: Clock,
        locale: str,
        tz: ZoneInfo,
        incidents_channel: str | None = None,
    ) -> None:
        self.sessions = make_sessionmaker(engine)
        self.client = client
        self.playbooks = playbooks
        self.clock = clock
        self.locale = locale
        self.tz = tz
        self.incidents_channel = incidents_channel
        # Called after work was handed to another lane outside a batch's end (the delivery
        # pool claims that lane at once rather than at its next look).
        self.on_hand_over: Callable[[], None] = lambda: None

    # --- loading and remembering ---------------------------------------------------------

    async def load(self, incident_id: int) -> Room:
        """The incident as it is now, with every message ref it has."""
        async with self.sessions() as session:
            loaded = await repo.load(session, incident_id, self.playbooks.current.matrix)
            report_row = await repo.latest_report(session, incident_id)
            refs = await session.exec(
                select(m.MessageRef).where(col(m.MessageRef.incident_id) == incident_id)
            )
            row = loaded.row
            return Room(
                row=row,
                state=loaded.state,
                report=_report_fields(report_row),
                refs={r.key: r for r in refs},
                number=incident_number(row.year, row.seq, row.drill),
            )

    async def remember(self, room: Room, key: str, channel: str, ts: str) -> None:
        """Store a message ref before the next call, so a retried row never posts twice."""
        await self.remember_all(room, [key], channel, ts)

    async def remember_all(self, room: Room, keys: list[str], channel: str, ts: str) -> None:
        """Store one message's refs (the lines it carries) in one transaction."""
        refs = [m.MessageRef(key=key, incident_id=room.id, channel=channel, ts=ts) for key in keys]
        async with self.sessions() as session, session.begin():
            for ref in refs:
                await session.merge(ref)
        for ref in refs:
            room.refs[ref.key] = ref
            room.posted.add(ref.key)

    async def post_and_remember(
        self,
        room: Room,
        key: str,
        where: str,
        text: str,
        blocks: render.Blocks | None = None,
        *,
        thread_ts: str | None = None,
    ) -> bool:
        """Post best-effort (a DM, a unit's channel) and remember the message under ``key``;
        False when Slack refused it for good."""
        posted = await best_effort(
            self.client.post_message(where, text, blocks, thread_ts=thread_ts)
        )
        if posted:
            await self.remember(room, key, str(posted["channel"]), str(posted["ts"]))
        return bool(posted)

    async def edit_once(
        self, room: Room, ref: m.MessageRef, text: str, blocks: render.Blocks | None = None
    ) -> None:
        """Edit a posted message (best-effort) to what ``room`` says now, once a batch:
        several events of one batch that change one message make one edit."""
        if (ref.channel, ref.ts) in room.edited:
            return
        room.edited.add((ref.channel, ref.ts))
        await best_effort(self.client.update_message(ref.channel, ref.ts, text, blocks))

    async def set_incident(
        self, room: Room, *, hand_over: HandOvers | None = None, **values: Any
    ) -> None:
        """Store columns of the incident row (its channel, its card's ts) and, in the same
        transaction, the work they make due in other lanes (``hand_over``; rows already
        waiting in those lanes waited for these values, so they are due now too)."""
        async with self.sessions() as session, session.begin():
            await session.exec(
                sa.update(m.Incident).where(col(m.Incident.id) == room.id).values(**values)
            )
            for kind, payload in (hand_over or {}).items():
                await outbox.hand_over(
                    session, room.id, kind, payload, self.clock.now(), wake=True
                )
        for name, value in values.items():
            setattr(room.row, name, value)
        if hand_over:
            self.on_hand_over()

    # --- rendering context -------------------------------------------------------------

    async def ctx(self, room: Room, locale: str | None = None) -> render.RenderContext:
        """The render context of ``room``, in ``locale`` or the workspace's."""
        ids = await self._resolve_people(room.state)

        def mention(ref: str) -> str:
            return render.default_mention(ids.get(ref) or ref)

        return render.RenderContext(
            locale=locale or self.locale,
            tz=self.tz,
            now=self.clock.now(),
            number=room.number,
            channel_id=room.row.channel_id,
            mention=mention,
            title=room.report.title,
        )

    async def _resolve_people(self, state: IncidentState) -> dict[str, str]:
        """The user ids of the matrix's people named by e-mail, as far as Slack has told
        within ``MENTION_WAIT``: a message is not held up by a look-up Slack keeps failing
        (the person is then named by e-mail in it, and mentioned in later messages)."""
        return await self.client.known_ids([p for p in state.matrix.refs() if "@" in p])


def channel_link(room: Room) -> str | None:
    """A link to the incident channel, once it exists."""
    return f"<#{room.row.channel_id}>" if room.row.channel_id else None


def _report_fields(row: m.Report) -> ReportFields:
    return ReportFields(
        occurred_at=row.occurred_at,
        place=row.place,
        nature=row.nature,
        scope=row.scope,
        trend=row.trend,
        measures=row.measures,
        unit_id=row.unit_id,
        contact_phone=row.contact_phone,
        title=row.title,
    )


async def gather_all(calls: Iterable[Awaitable[Any]]) -> None:
    """Run calls side by side (they touch different messages or conversations); if any
    failed, raise the first failure once all have finished, so the batch is retried."""
    await all_or_first_failure(calls)


async def best_effort(call: Awaitable[Any]) -> Any:
    """Run a call whose permanent failure (unknown user, missing channel) must not block
    the incident's other messages; transient failures still propagate and are retried."""
    try:
        return await call
    except CallFailure as exc:
        if exc.transient:
            raise
        log.warning("Slack refused a best-effort call: %s", exc)
        return None
