"""Seed the emulated workspace from the responsibility matrix: its people and its channels."""

from __future__ import annotations

import re
from dataclasses import dataclass

from epbot.domain.matrix import Matrix
from epbot.fakeslack import Channel, User, Workspace

GENERAL = "general"
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_NAME_BAD = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Person:
    """Someone the sandbox can act as: their Slack user, matrix ref and roles."""

    user_id: str
    ref: str
    name: str
    roles: tuple[str, ...]  # role ids, in matrix order


def slack_locale(locale: str) -> str:
    """The Slack locale of a user who reads epbot in ``locale``."""
    return "zh-CN" if locale == "zh-CN" else "en-US"


def _user_name(ref: str) -> str:
    base = ref.split("@")[0] if "@" in ref else ref
    return _NAME_BAD.sub("-", base.lower()).strip("-") or "user"


def _ensure_user(ws: Workspace, ref: str, real_name: str, *, locale: str, tz: str) -> User:
    if "@" in ref:
        found = ws.user_by_email(ref)
        if found is not None:
            return found
        return ws.add_user(_user_name(ref), real_name=real_name, email=ref, locale=locale, tz=tz)
    if ref in ws.users:
        return ws.users[ref]
    return ws.add_user(_user_name(ref), real_name=real_name, user_id=ref, locale=locale, tz=tz)


def _ensure_channel(ws: Workspace, ref: str, members: list[str]) -> Channel:
    """A channel named (or, for an id such as ``C0123ABCD``, identified by) ``ref``."""
    name = ref.removeprefix("#")
    if _CHANNEL_ID.match(name):
        existing = ws.channels.get(name)
        if existing is None:
            existing = ws.add_channel(name.lower(), bot_is_member=True)
            # Re-key the channel so the id the matrix names is the one the bot posts to.
            del ws.channels[existing.id]
            ws.messages[name] = ws.messages.pop(existing.id)
            existing.id = name
            ws.channels[name] = existing
    else:
        existing = ws.channel_by_name(name)
        if existing is None:
            existing = ws.add_channel(name, bot_is_member=True)
    for member in [ws.bot.id, *members]:
        if member not in existing.members:
            existing.members.append(member)
    return existing


def seed(
    ws: Workspace, matrix: Matrix, *, announce: str | None, locale: str, tz: str
) -> list[Person]:
    """Users for every person of the matrix, #general, the announcement and unit channels.

    Returns the people in matrix order (each once), for the person switcher.
    """
    slack_lang = slack_locale(locale)
    people: dict[str, Person] = {}
    for role in matrix.roles:
        for ref in role.people:
            known = matrix.person(ref)
            user = _ensure_user(ws, ref, known.name or ref, locale=slack_lang, tz=tz)
            found = people.get(user.id)
            roles = (*found.roles, role.id) if found else (role.id,)
            people[user.id] = Person(user.id, ref, user.real_name, roles)
    everyone = list(people)
    _ensure_channel(ws, GENERAL, everyone)
    if announce:
        _ensure_channel(ws, announce, everyone)
    for unit in matrix.units:
        if not unit.channel:
            continue
        unit_roles = {r.id for r in matrix.roles if r.unit == unit.id}
        members = [p.user_id for p in people.values() if unit_roles & set(p.roles)]
        _ensure_channel(ws, unit.channel, members)
    return list(people.values())


def default_person(people: list[Person], matrix: Matrix) -> str | None:
    """Who the page acts as at first: someone who reports, not a leader or the office."""
    receivers = {matrix.leadership_group, matrix.leadership_leader, matrix.emergency_office}
    for person in people:
        if not receivers & set(person.roles):
            return person.user_id
    return people[0].user_id if people else None
