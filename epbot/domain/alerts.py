"""Early warning (Article 4): monitoring alerts as signals, routing rules, dedup and rate.

Pure: stdlib + pydantic only, no clock reads. Three payload shapes come in (Prometheus
Alertmanager webhook version 4, Grafana Alerting's webhook contact point, and epbot's own
small generic JSON); each becomes a list of :class:`Signal`, one per alert, never one per
group. A signal is identified by its fingerprint (or the generic ``dedup_key``): a repeat
while it fires updates the same warning, a resolution ends it, and only a new firing after
that opens a new warning.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from epbot.domain.playbook import Severity
from epbot.domain.validation import Issue, pydantic_issues

MAX_SUMMARY = 500
MAX_DETAILS = 3000
MAX_LABELS = 64
MAX_KEY = 200


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertAction(StrEnum):
    WARN = "warn"  # post a warning (预警) with declare / dismiss buttons
    DECLARE = "declare"  # open the incident at once (reporter = the source)


class PayloadKind(StrEnum):
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"


class PayloadError(ValueError):
    """A payload that cannot be taken; ``field`` names what is wrong (``alerts[0].status``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class Signal:
    """One alert of one notification, normalised."""

    fingerprint: str
    status: AlertStatus
    summary: str
    details: str
    labels: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    url: str | None = None
    source: str | None = None  # the generic payload's own ``source`` field


# --- payloads ------------------------------------------------------------------------------


class _Loose(BaseModel):
    # Senders add fields over time (Grafana: values, silenceURL...): ignore what we don't use.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _Alert(_Loose):
    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = Field(default=None, max_length=MAX_KEY)
    # Grafana's own fields
    dashboardURL: str | None = None
    panelURL: str | None = None


class _Notification(_Loose):
    """Alertmanager's webhook body (version 4); Grafana sends the same shape plus its own."""

    status: AlertStatus
    alerts: list[_Alert]
    groupKey: str | None = None
    version: str | None = None
    receiver: str | None = None
    externalURL: str | None = None


class GenericAlert(_Loose):
    """epbot's generic webhook (``POST /alerts/generic``), documented in docs/alerts.md."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=64)
    dedup_key: str = Field(min_length=1, max_length=MAX_KEY)
    status: AlertStatus
    summary: str = Field(min_length=1)
    details: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    starts_at: datetime | None = None


def _field_of(err: Any) -> str:
    out = ""
    for part in err["loc"]:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _payload_error(exc: ValidationError) -> PayloadError:
    err = exc.errors(include_url=False)[0]
    name = _field_of(err)
    if err["type"] == "missing":
        return PayloadError(name, "missing field")
    if err["type"] == "extra_forbidden":
        return PayloadError(name, "unknown field")
    if err["type"] == "enum":
        return PayloadError(name, "must be 'firing' or 'resolved'")
    return PayloadError(name, str(err["msg"]))


def _when(value: datetime | None) -> datetime | None:
    """Aware UTC, or None for Go's zero time (``0001-01-01T00:00:00Z``: not ended)."""
    if value is None or value.year <= 1:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def labels_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable fingerprint from the label set, for senders that give none."""
    canonical = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _check_labels(labels: Mapping[str, str], where: str) -> None:
    if len(labels) > MAX_LABELS:
        raise PayloadError(where, f"more than {MAX_LABELS} labels")


def parse_notification(data: Any, kind: PayloadKind) -> list[Signal]:
    """The signals of an Alertmanager or Grafana notification: one per alert."""
    if not isinstance(data, dict):
        raise PayloadError("body", "must be a JSON object")
    try:
        note = _Notification.model_validate(data)
    except ValidationError as exc:
        raise _payload_error(exc) from None
    if kind is PayloadKind.ALERTMANAGER and note.version not in (None, "4"):
        raise PayloadError("version", f"unsupported version {note.version!r} (expected '4')")
    signals = []
    for n, alert in enumerate(note.alerts):
        _check_labels(alert.labels, f"alerts[{n}].labels")
        annotations = alert.annotations
        summary = (
            annotations.get("summary")
            or annotations.get("description")
            or alert.labels.get("alertname")
            or ""
        )
        details = annotations.get("description", "") if annotations.get("summary") else ""
        url = alert.generatorURL or alert.panelURL or alert.dashboardURL or None
        signals.append(
            Signal(
                fingerprint=alert.fingerprint or labels_fingerprint(alert.labels),
                status=alert.status,
                summary=summary[:MAX_SUMMARY],
                details=details[:MAX_DETAILS],
                labels=dict(alert.labels),
                starts_at=_when(alert.startsAt),
                ends_at=_when(alert.endsAt),
                url=url or None,
            )
        )
    return signals


def parse_generic(data: Any) -> list[Signal]:
    """The one signal of a generic alert."""
    if not isinstance(data, dict):
        raise PayloadError("body", "must be a JSON object")
    try:
        alert = GenericAlert.model_validate(data)
    except ValidationError as exc:
        raise _payload_error(exc) from None
    _check_labels(alert.labels, "labels")
    return [
        Signal(
            fingerprint=alert.dedup_key,
            status=alert.status,
            summary=alert.summary[:MAX_SUMMARY],
            details=alert.details[:MAX_DETAILS],
            labels=dict(alert.labels),
            starts_at=_when(alert.starts_at),
            url=alert.url or None,
            source=alert.source,
        )
    ]


def parse_payload(data: Any, kind: PayloadKind) -> list[Signal]:
    """The signals of one webhook body of ``kind``; PayloadError names what is wrong."""
    if kind is PayloadKind.GENERIC:
        return parse_generic(data)
    return parse_notification(data, kind)


# --- routing rules (playbooks/alerts.yaml) ------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class LabelMatch(_Frozen):
    """One label condition: equality, a regular expression (whole value), or presence."""

    equals: str | None = None
    regex: str | None = None
    present: bool | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    def matches(self, value: str | None) -> bool:
        if self.present is not None and (value is not None) != self.present:
            return False
        if self.equals is not None and value != self.equals:
            return False
        return not (
            self.regex is not None and (value is None or re.fullmatch(self.regex, value) is None)
        )


class AlertRule(_Frozen):
    """``match`` labels -> a playbook, a severity and an action."""

    name: str = Field(min_length=1, max_length=64)
    match: dict[str, LabelMatch] = Field(min_length=1)
    playbook: str | None = None
    severity: Severity | None = None
    action: AlertAction = AlertAction.WARN
    unit: str | None = None  # the report's unit when the rule declares
    contact_phone: str | None = None

    @field_validator("match", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        # ``alertname: PostgresDown`` is equality; a mapping says regex/present/equals.
        if isinstance(value, dict):
            return {
                k: ({"equals": str(v)} if isinstance(v, str | int | float) else v)
                for k, v in value.items()
            }
        return value

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(cond.matches(labels.get(name)) for name, cond in self.match.items())


class AlertRules(_Frozen):
    """The routing rules, first match wins."""

    rules: list[AlertRule] = Field(default_factory=list)


@dataclass(frozen=True)
class Route:
    playbook: str | None
    severity: Severity | None
    action: AlertAction
    rule: str | None = None
    unit: str | None = None
    contact_phone: str | None = None


PLAYBOOK_LABEL = "playbook"


def route(rules: AlertRules | None, labels: Mapping[str, str]) -> Route:
    """Where an alert goes: the first matching rule, else its ``playbook`` label, else a plain
    warning with no suggestion."""
    for rule in rules.rules if rules is not None else []:
        if rule.matches(labels):
            return Route(
                playbook=rule.playbook or labels.get(PLAYBOOK_LABEL),
                severity=rule.severity,
                action=rule.action,
                rule=rule.name,
                unit=rule.unit,
                contact_phone=rule.contact_phone,
            )
    return Route(playbook=labels.get(PLAYBOOK_LABEL), severity=None, action=AlertAction.WARN)


# --- dedup --------------------------------------------------------------------------------


class Change(StrEnum):
    NEW = "new"  # first firing: a new warning
    REPEAT = "repeat"  # fires again: count + 1, last seen, same warning
    RESOLVED = "resolved"  # the source says it ended: the warning shows resolved
    IGNORED = "ignored"  # resolved for nothing open (unknown, or already resolved)


def change_for(open_alert_exists: bool, status: AlertStatus) -> Change:
    """What a signal does given whether its alert is open (firing, not yet resolved)."""
    if status is AlertStatus.FIRING:
        return Change.REPEAT if open_alert_exists else Change.NEW
    return Change.RESOLVED if open_alert_exists else Change.IGNORED


# --- rate ---------------------------------------------------------------------------------


@dataclass
class RateLimiter:
    """At most ``limit`` alerts per ``window`` per source; times are passed in.

    A request is admitted whole or refused whole (the sender retries it later), and a
    refused request counts for nothing.
    """

    limit: int
    window: timedelta
    _seen: dict[str, deque[tuple[datetime, int]]] = field(default_factory=dict)

    def admit(self, source: str, count: int, now: datetime) -> float | None:
        """None if admitted (and counted); else the seconds to wait before retrying."""
        seen = self._seen.setdefault(source, deque())
        while seen and seen[0][0] <= now - self.window:
            seen.popleft()
        for quiet in [s for s, q in self._seen.items() if not q and s != source]:
            del self._seen[quiet]  # sources gone quiet are forgotten: memory stays bounded
        used = sum(n for _, n in seen)
        if used + count <= self.limit:
            if count:
                seen.append((now, count))
            return None
        if count > self.limit:
            return self.window.total_seconds()
        # Wait until enough of the oldest entries leave the window.
        free = self.limit - used
        for at, n in seen:
            free += n
            if free >= count:
                return max(1.0, math.ceil((at + self.window - now).total_seconds()))
        return self.window.total_seconds()


# --- the report an alert suggests -----------------------------------------------------------


def scope_of(labels: Mapping[str, str]) -> str:
    """The labels as ``name=value, ...`` (the report's scope of impact)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))


def place_of(labels: Mapping[str, str]) -> str:
    """Where: the instance or host the alert names, if any."""
    for name in ("instance", "host", "hostname", "node", "service", "job"):
        if labels.get(name):
            return labels[name]
    return ""


def occurred_at(starts_at: datetime | None, now: datetime) -> datetime:
    """The report's time: when the alert started, never in the future."""
    return now if starts_at is None or starts_at > now else starts_at


Refusal = Literal["unauthorized", "bad_request", "too_large", "rate_limited"]
REFUSALS: Sequence[Refusal] = ("unauthorized", "bad_request", "too_large", "rate_limited")


# --- validation of the rules file ----------------------------------------------------------


def parse_alert_rules(data: Any) -> tuple[AlertRules | None, list[Issue]]:
    """The rules from raw (YAML-loaded) data; ``None`` and located issues if it fails."""
    if data is None:
        return AlertRules(), []
    try:
        return AlertRules.model_validate(data), []
    except ValidationError as exc:
        return None, pydantic_issues(exc, AlertRules)


def check_alert_rules(
    rules: AlertRules, *, playbooks: Sequence[str], units: Sequence[str]
) -> list[Issue]:
    """Cross-checks: known playbooks and units, unique names, declare rules complete."""
    issues: list[Issue] = []
    names: set[str] = set()
    for n, rule in enumerate(rules.rules):
        path: tuple[str | int, ...] = ("rules", n)
        if rule.name in names:
            issues.append(Issue((*path, "name"), f"duplicate rule name {rule.name!r}"))
        names.add(rule.name)
        if rule.playbook is not None and rule.playbook not in playbooks:
            issues.append(
                Issue(
                    (*path, "playbook"),
                    f"unknown playbook {rule.playbook!r}; known: {', '.join(sorted(playbooks))}",
                )
            )
        if rule.unit is not None and rule.unit not in units:
            issues.append(Issue((*path, "unit"), f"unknown unit {rule.unit!r}"))
        if rule.action is AlertAction.DECLARE:
            if rule.playbook is None:
                issues.append(Issue(path, f"rule {rule.name!r} declares but names no playbook"))
            if rule.unit is None:
                issues.append(
                    Issue(path, f"rule {rule.name!r} declares but names no unit for the report")
                )
        for label, cond in rule.match.items():
            if cond.equals is None and cond.regex is None and cond.present is None:
                issues.append(
                    Issue((*path, "match", label), "give equals, regex or present")
                )
    return issues
