"""Logging: text or JSON lines, request/incident context, and no secret in any record.

``configure_logging(settings)`` installs one handler on the root logger. Every record
passes two filters before it is formatted:

* :class:`ContextFilter` copies the fields bound with :func:`log_context` / :func:`bind`
  (``incident_id``, ``slack_request_id``, ``slack_retry_num``) onto the record;
* :class:`RedactSecrets` renders the message (``msg % args``), the exception text and
  the stack, and replaces the bot token, app token, signing secret, the database
  password and anything shaped like a Slack token with ``[REDACTED]``.

The context lives in a ``ContextVar``, so it follows a request through ``await`` and into
tasks created while it is bound (asyncio copies the context into a new task).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any, TextIO
from urllib.parse import quote_plus

from epbot.config import Settings

REDACTED = "[REDACTED]"
CONTEXT_FIELDS = ("incident_id", "slack_request_id", "slack_retry_num")
# Slack tokens: bot (xoxb), user (xoxp), app-level (xapp), and the other xox? kinds.
TOKEN_PATTERN = re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]+")

_context: ContextVar[Mapping[str, str]] = ContextVar(
    "epbot_log_context", default=MappingProxyType({})
)
_OURS = "_epbot_handler"


# --- context -------------------------------------------------------------------------


def current_context() -> dict[str, str]:
    """The fields bound in the current context."""
    return dict(_context.get())


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every record logged inside the block (``None`` values are skipped)."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add ``fields`` to the current context until it ends (a request's task, say)."""
    _context.set(_merged(fields))


def _merged(fields: Mapping[str, object]) -> dict[str, str]:
    merged = dict(_context.get())
    merged.update({key: str(value) for key, value in fields.items() if value is not None})
    return merged


def slack_request_id(body: Mapping[str, Any]) -> str | None:
    """What Slack itself calls this request: the event id, trigger id or view id."""
    for key in ("event_id", "trigger_id", "envelope_id"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    view = body.get("view")
    if isinstance(view, Mapping) and isinstance(view.get("id"), str):
        return f"{view['id']}:{view.get('hash', '')}"
    return None


async def bolt_log_context(req: Any, resp: Any, next: Callable[[], Awaitable[Any]]) -> Any:
    """Bolt global middleware: bind ``slack_request_id`` and ``slack_retry_num``.

    Bolt runs its listeners after the middleware chain, in the same task, so the fields are
    bound (not set-and-reset) here; each aiohttp request runs in its own task, which
    scopes them to one request. Requests without a Slack id get a generated one.
    """
    del resp  # Bolt passes middleware arguments by name; this one is unused
    body = req.body if isinstance(req.body, Mapping) else {}
    retry = (req.headers.get("x-slack-retry-num") or [None])[0]
    bind(
        slack_request_id=slack_request_id(body) or f"epbot-{uuid.uuid4().hex[:12]}",
        slack_retry_num=retry,
    )
    return await next()


class ContextFilter(logging.Filter):
    """Copy the bound context fields onto each record (``extra=`` values win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


# --- redaction -----------------------------------------------------------------------


def secrets_of(settings: Settings) -> list[str]:
    """The secret values in ``settings``: tokens, signing secret, database password."""
    values = [
        secret.get_secret_value()
        for secret in (
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.slack_signing_secret,
        )
        if secret is not None
    ]
    values += list(settings.alert_token_map())  # the alert webhooks' bearer tokens
    from sqlalchemy.engine import make_url

    with contextlib.suppress(Exception):
        password = make_url(settings.database_url).password
        if password:
            values.append(str(password))
    return [value for value in values if value]


class RedactSecrets(logging.Filter):
    """Replace secret values and Slack-token-shaped strings in every part of a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Each secret also as it appears inside a form body or a JSON string; longest first,
        # so a secret that contains another is removed whole.
        forms = {
            form
            for secret in secrets
            if secret
            for form in (secret, quote_plus(secret), json.dumps(secret)[1:-1])
        }
        self._secrets = sorted(forms, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record (nor crash here)
            message = f"{record.msg!r} (unformattable arguments {record.args!r})"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


# --- formatting ----------------------------------------------------------------------


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    parts = [part for part in (record.exc_text, record.stack_info) if part]
    return "\n".join(parts) or None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, exception, context fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        exception = _exception_text(self, record)
        if exception:
            line["exception"] = exception
        for key in CONTEXT_FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message [incident_id=... slack_request_id=...]``, then the trace."""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(
            f"{key}={getattr(record, key)}"
            for key in CONTEXT_FIELDS
            if getattr(record, key, None) is not None
        )
        text = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        if context:
            text += f" [{context}]"
        exception = _exception_text(self, record)
        return f"{text}\n{exception}" if exception else text


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(settings: Settings, *, install_hooks: bool = True) -> logging.Handler:
    """Log to stderr in ``settings.log_format`` at ``settings.log_level``, secrets redacted.

    Calling it again replaces the handler it installed before (and no other). With
    ``install_hooks``, uncaught exceptions (main thread and other threads) are logged
    through the same handler, so a crash is a redacted record too, not a raw traceback.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    setattr(handler, _OURS, True)
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Alembic announces each plugin at INFO whenever it is imported: noise, not events.
    noisy = logging.getLogger("alembic.runtime.plugins")
    noisy.setLevel(logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING)
    logging.captureWarnings(True)
    if install_hooks:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_thread
    return handler


def _log_uncaught(
    kind: type[BaseException], value: BaseException, trace: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, trace)
        return
    logging.getLogger("epbot").critical("uncaught exception", exc_info=(kind, value, trace))


def _log_uncaught_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    logging.getLogger("epbot").critical(
        "uncaught exception in thread %s",
        args.thread.name if args.thread else "?",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def logs_configured_as_json() -> bool:
    """True when :func:`configure_logging` installed the JSON format."""
    return any(
        getattr(h, _OURS, False) and isinstance(h.formatter, JsonFormatter)
        for h in logging.getLogger().handlers
    )


class LogLines(io.StringIO):
    """A text stream whose complete lines become INFO records of ``logger``.

    ``epbot serve`` writes its start-up lines to a stream; under JSON logging they go
    through here, so every line the process prints is a JSON record.
    """

    def __init__(self, logger: str = "epbot") -> None:
        super().__init__()
        self._log = logging.getLogger(logger)
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._log.info("%s", line.strip())
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self._log.info("%s", self._buffer.strip())
        self._buffer = ""
