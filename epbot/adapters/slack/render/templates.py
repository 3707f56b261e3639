"""The Jinja2 side of rendering: the locale's templates and labels, the render context,
and the helpers every template may call.

Templates run with autoescape off (mrkdwn is not HTML), so every value a person typed goes
through the ``mrkdwn`` filter; the helper functions given to templates (``role``, ``step``,
``m`` ...) already return mrkdwn-safe text.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from epbot.adapters.slack.mrkdwn import channel_link, default_mention, escape
from epbot.adapters.slack.render.vocabulary import (
    role_name,
    severity_name,
    stage_title,
    step_title,
    unit_name,
)
from epbot.domain.incident import IncidentState, Status, upcoming_deadline
from epbot.domain.playbook import STAGE_ORDER, Severity, StageId


@dataclass(frozen=True)
class RenderContext:
    locale: str  # "zh-CN" or "en"
    tz: ZoneInfo  # times shown in this zone
    now: datetime  # aware UTC, for countdowns
    number: str  # "2026-0007" or "DRILL-2026-0001"
    channel_id: str | None = None
    mention: Callable[[str], str] = default_mention  # person ref -> "<@U123>"
    title: str | None = None  # the incident's title (its latest report's), as typed

    @property
    def lang(self) -> str:
        """The template directory: ``en`` for any English locale, else ``zh-CN``."""
        return "en" if self.locale.lower().startswith("en") else "zh-CN"


def _mrkdwn_filter(value: Any) -> str:
    return escape("" if value is None else str(value))


@functools.cache
def env() -> Environment:
    """The one Jinja2 environment of ``epbot/adapters/templates``."""
    environment = Environment(
        loader=PackageLoader("epbot", "adapters/templates"),
        undefined=StrictUndefined,
        autoescape=False,  # mrkdwn, not HTML: the ``mrkdwn`` filter escapes user values
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    environment.filters["mrkdwn"] = _mrkdwn_filter
    return environment


def _template(lang: str, name: str) -> Template:
    return env().get_template(f"{lang}/{name}.j2")


@functools.cache
def labels(lang: str) -> dict[str, str]:
    """The short texts of one template directory (``en`` or ``zh-CN``)."""
    found: dict[str, str] = _template(lang, "labels").module.labels  # type: ignore[attr-defined]
    return found


def label(locale: str, key: str) -> str:
    """A short text from the locale's labels template (``modal.approval.reject_reason``...)."""
    return labels("en" if locale.lower().startswith("en") else "zh-CN")[key]


def template_names(lang: str) -> list[str]:
    """The template files of one locale (for tests: both locales must have the same)."""
    prefix = f"{lang}/"
    return sorted(n[len(prefix) :] for n in env().list_templates() if n.startswith(prefix))


class Helpers:
    """What templates may call; every function returns mrkdwn-safe text."""

    def __init__(self, state: IncidentState | None, ctx: RenderContext) -> None:
        self.state, self.ctx = state, ctx
        self.L = labels(ctx.lang)

    def vars(self) -> dict[str, Any]:
        return {
            "L": self.L,
            "ctx": self.ctx,
            "number": escape(self.ctx.number),
            "t": self.time,
            "countdown": self.countdown,
            "dur": self.duration,
            "m": self.mention,
            "role": self.role,
            "step": self.step,
            "stage": self.stage,
            "unit": self.unit,
            "sev": self.severity,
            "status": self.status,
            "pb": self.playbook_title,
            "dt": as_datetime,
            "phone": self.phone,
            "person_name": self.name,
            "about": self.about,
        }

    def time(self, value: datetime | str | None) -> str:
        at = as_datetime(value)
        return "—" if at is None else at.astimezone(self.ctx.tz).strftime("%m-%d %H:%M")

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return "—"
        seconds = max(0, round(seconds))
        if seconds < 60:
            return self.L["seconds"].format(n=seconds)
        minutes = math.ceil(seconds / 60)
        if minutes < 60:
            return self.L["minutes"].format(n=minutes)
        hours, minutes = divmod(minutes, 60)
        if minutes == 0:
            return self.L["hours"].format(n=hours)
        return self.L["hours_minutes"].format(h=hours, n=minutes)

    def countdown(self, due: datetime | str | None) -> str:
        at = as_datetime(due)
        if at is None:
            return ""
        delta = (at - self.ctx.now).total_seconds()
        whole = max(60.0, abs(delta))  # "due in 1 min", never "due in 0 s"
        if delta >= 0:
            return self.L["due_in"].format(d=self.duration(whole))
        return self.L["overdue_by"].format(d=self.duration(whole))

    def mention(self, ref: str | None) -> str:
        return "—" if not ref else self.ctx.mention(ref)

    def name(self, ref: str | None) -> str:
        """A person's name from the matrix's directory, for places that do not render
        mentions (a channel topic); the mention when the directory has no name."""
        if not ref:
            return "—"
        known = self.state.matrix.person(ref).name if self.state is not None else None
        return escape(known) if known else self.mention(ref)

    def phone(self, ref: str | None) -> str:
        """The person's phone from the matrix directory (Art. 5.1), or ""."""
        if not ref or self.state is None:
            return ""
        return escape(self.state.matrix.person(ref).phone or "")

    def role(self, role_id: str | None) -> str:
        return escape(self.role_plain(role_id))

    def role_plain(self, role_id: str | None) -> str:
        if not role_id:
            return "—"
        if self.state is None:
            return role_id
        return role_name(self.state.matrix, role_id, self.ctx.lang)

    def step(self, step_id: str | None) -> str:
        return escape(self.step_plain(step_id))

    def step_plain(self, step_id: str | None) -> str:
        if not step_id:
            return "—"
        if self.state is None:
            return step_id
        return step_title(self.state.playbook, step_id, self.ctx.lang)

    def stage(self, stage_id: str | StageId | None) -> str:
        if not stage_id:
            return "—"
        title = None
        if self.state is not None:
            title = stage_title(self.state.playbook, stage_id, self.ctx.lang)
        if title is not None:
            return escape(title)
        return escape(self.L.get(f"stage.{stage_id}", str(stage_id)))

    def unit(self, unit_id: str | None) -> str:
        if not unit_id:
            return "—"
        if self.state is None:
            return escape(unit_id)
        return escape(unit_name(self.state.matrix, unit_id, self.ctx.lang))

    def severity(self, value: str | Severity | None) -> str:
        if value is None:
            return "—"
        name = severity_name(value, self.ctx.lang)
        return escape(str(value)) if name is None else name

    def status(self, value: str | Status | None) -> str:
        if value is None:
            return "—"
        return escape(self.L.get(f"status.{value}", str(value)))

    def about(self, *, plain: bool = False, link: str | None = None) -> str:
        """The incident as it is named outside its channel: number, title, severity, stage
        and a link to the channel (``link`` or the context's channel), one line.

        ``plain`` leaves out the bold, for a notification's text."""
        state = self.state
        if state is None:
            return escape(self.ctx.number)
        stage_id = current_stage(state)
        where = self.stage(stage_id) if state.is_open and stage_id else self.status(state.status)
        text = _template(self.ctx.lang, "incident_ref").module.about(  # type: ignore[attr-defined]
            plain=plain,
            number=escape(self.ctx.number),
            title=escape(self.ctx.title) if self.ctx.title else None,
            playbook=self.playbook_title(),
            severity=self.severity(state.severity),
            where=where,
            drill=state.drill,
            link=channel_link(link) or channel_link(self.ctx.channel_id),
            L=self.L,
        )
        return str(text).strip()

    def playbook_title(self) -> str:
        return "" if self.state is None else escape(self.state.playbook.title.get(self.ctx.lang))


def as_datetime(value: datetime | str | None) -> datetime | None:
    """A timeline's time (a datetime or its ISO text, naive meaning UTC), or None."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def render_text(template_name: str, helpers: Helpers, **variables: Any) -> str:
    """A whole template rendered as one text."""
    text = _template(helpers.ctx.lang, template_name).render(**helpers.vars(), **variables)
    return text.strip()


def macros(template_name: str, helpers: Helpers, **variables: Any) -> Any:
    """The template's macros, each returning a text (call ``str()`` on the result)."""
    return _template(helpers.ctx.lang, template_name).make_module({**helpers.vars(), **variables})


def call(module: Any, macro: str, *args: Any) -> str:
    """One macro of a :func:`macros` module, as a stripped text."""
    return str(getattr(module, macro)(*args)).strip()


class Data(dict[str, Any]):
    """Event data for templates: a missing key reads as None (old rows lack newer keys)."""

    def __missing__(self, key: str) -> None:
        return None

    def __getattr__(self, key: str) -> Any:
        return self[key]


def event_parts(event: dict[str, Any]) -> tuple[str, str, Any, dict[str, Any]]:
    """An outbox or timeline event as (kind, actor, at, data)."""
    data = event.get("data") or {}
    return str(event.get("kind", "")), str(event.get("actor") or ""), event.get("at"), data


def current_stage(state: IncidentState) -> StageId | None:
    """The latest stage the incident has entered."""
    entered = [s for s in STAGE_ORDER if s in state.stages]
    return entered[-1] if entered else None


def next_due(state: IncidentState) -> tuple[str, datetime] | None:
    """The open incident's nearest deadline (step id, due time)."""
    return upcoming_deadline(state) if state.is_open else None
