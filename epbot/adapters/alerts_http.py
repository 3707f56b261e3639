"""The alert webhooks on the bot's HTTP port: ``POST /alerts/{alertmanager,grafana,generic}``.

Refusals change nothing and say why: 401 without a valid bearer token (compared in
constant time, never logged), 413 over 1 MiB, 400 with ``{"error", "field"}`` for bad JSON
or a missing field, 429 with ``Retry-After`` when a source goes over its rate. What is
taken goes to :class:`AlertService` (one transaction, outbox included); Slack is never
called from here.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from epbot.domain.alerts import PayloadError, PayloadKind, RateLimiter, parse_payload
from epbot.services.alerts import AlertService

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB
PATHS = {
    "/alerts/alertmanager": PayloadKind.ALERTMANAGER,
    "/alerts/grafana": PayloadKind.GRAFANA,
    "/alerts/generic": PayloadKind.GENERIC,
}


class AlertMetrics:
    """In-process counters of the alert webhooks (``epbot_alerts_*``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.received_total = PromCounter(
            "epbot_alerts_received",
            "Alerts taken in, by source and status (firing, resolved)",
            ["source", "status"],
            registry=registry,
        )
        self.deduplicated_total = PromCounter(
            "epbot_alerts_deduplicated",
            "Repeats of an alert already warned about (its warning updated in place)",
            ["source"],
            registry=registry,
        )
        self.declared_total = PromCounter(
            "epbot_alerts_declared",
            "Incidents opened from alerts, by a declare rule or a person",
            ["source", "how"],
            registry=registry,
        )
        self.dismissed_total = PromCounter(
            "epbot_alerts_dismissed",
            "Warnings dismissed by a person (false alarm, no incident needed)",
            ["source"],
            registry=registry,
        )
        self.refused_total = PromCounter(
            "epbot_alerts_refused",
            "Webhook requests refused, by reason",
            ["reason"],
            registry=registry,
        )

    # AlertObserver
    def received(self, source: str, status: str) -> None:
        self.received_total.labels(source=source, status=status).inc()

    def deduplicated(self, source: str) -> None:
        self.deduplicated_total.labels(source=source).inc()

    def declared(self, source: str, how: str) -> None:
        self.declared_total.labels(source=source, how=how).inc()

    def dismissed(self, source: str) -> None:
        self.dismissed_total.labels(source=source).inc()

    def refused(self, reason: str) -> None:
        self.refused_total.labels(reason=reason).inc()


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    """The body, but never more than ``limit`` bytes of it (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _answer(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(body), content_type="application/json", headers=headers
    )


class AlertIntake:
    """The three webhook endpoints over one :class:`AlertService`."""

    def __init__(
        self,
        *,
        service: AlertService,
        tokens: dict[str, str],
        rate_limit: int = 300,
        rate_window: float = 300.0,
        now: Callable[[], datetime],
        metrics: AlertMetrics | None = None,
    ) -> None:
        self.service = service
        self._tokens = [(token.encode(), name) for token, name in tokens.items()]
        self.limiter = RateLimiter(limit=rate_limit, window=timedelta(seconds=rate_window))
        self.now = now
        self.metrics = metrics or AlertMetrics()

    def add_routes(self, application: web.Application) -> None:
        for path, kind in PATHS.items():
            application.router.add_post(path, self._handler(kind))

    def _source_of(self, header: str | None) -> str | None:
        """The token's source name ("" for a plain token), or None when it is not ours."""
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        candidate = given.strip().encode()
        found: str | None = None
        for token, name in self._tokens:  # every token is compared: no early exit
            if hmac.compare_digest(candidate, token):
                found = name
        return found

    def _refuse(
        self, reason: str, status: int, body: dict[str, Any], **headers: str
    ) -> web.Response:
        self.metrics.refused(reason)
        return _answer(status, body, **headers)

    def _handler(self, kind: PayloadKind) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            return await self.handle(request, kind)

        return handle

    async def handle(self, request: web.Request, kind: PayloadKind) -> web.Response:
        name = self._source_of(request.headers.get("Authorization"))
        if name is None:
            log.info("alert webhook %s refused: no valid bearer token", kind.value)
            return self._refuse(
                "unauthorized",
                401,
                {"error": "unauthorized: send Authorization: Bearer <token>"},
                **{"WWW-Authenticate": "Bearer"},
            )
        if request.content_length is not None and request.content_length > MAX_BODY:
            return self._refuse("too_large", 413, {"error": f"body over {MAX_BODY} bytes"})
        raw = await _read_at_most(request, MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return self._refuse("too_large", 413, {"error": f"body over {MAX_BODY} bytes"})
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return self._refuse(
                "bad_request", 400, {"error": f"malformed JSON: {exc}", "field": "body"}
            )
        try:
            signals = parse_payload(data, kind)
        except PayloadError as exc:
            return self._refuse(
                "bad_request", 400, {"error": f"{exc.field}: {exc.message}", "field": exc.field}
            )
        source = name or (signals[0].source if signals and signals[0].source else kind.value)
        wait = self.limiter.admit(source, len(signals), self.now())
        if wait is not None:
            log.warning("alert source %s over its rate; retry in %ss", source, wait)
            return self._refuse(
                "rate_limited",
                429,
                {"error": f"source {source!r} is over its alert rate", "retry_after": wait},
                **{"Retry-After": str(math.ceil(wait))},
            )
        receipt = await self.service.receive(source=source, kind=kind, signals=signals)
        return _answer(200, {"source": source, **receipt.as_json()})
