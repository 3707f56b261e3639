"""Which process runs the timers: a PostgreSQL session-level advisory lock.

Every process keeps one dedicated connection and tries ``pg_try_advisory_lock`` on it
every few seconds; the one that gets the lock is the timer leader and keeps it for as
long as that connection lives. When the leader dies (even by SIGKILL) the kernel closes
its socket, PostgreSQL ends the session and releases the lock, and the next try of
another process wins. No lease table, no clock comparisons between machines.

The leader also LISTENs on a channel that followers NOTIFY when a use case they ran
changed the timers, so the leader's alarm clock moves at once instead of at its next
poll. Being leader twice for a moment (a partition the old leader has not noticed yet)
is harmless: the timer claims (``FOR UPDATE SKIP LOCKED``) keep every reminder single.

SQLite is one process by construction: :class:`AlwaysLeader`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

# A fixed 64-bit key: "epbot timers" in one advisory-lock namespace per database.
LOCK_KEY = 0x6570_626F_7474_6D72
CHANNEL = "epbot_timers"


class Leadership(Protocol):
    @property
    def is_leader(self) -> bool: ...

    def describe(self) -> dict[str, Any]: ...

    def notify(self) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class AlwaysLeader:
    """SQLite: the only process is always the leader."""

    def __init__(self, on_change: Callable[[bool], None] | None = None) -> None:
        self._on_change = on_change

    @property
    def is_leader(self) -> bool:
        return True

    def describe(self) -> dict[str, Any]:
        return {"leader": True, "mode": "single"}

    def notify(self) -> None:
        """Nobody else to tell."""

    async def start(self) -> None:
        if self._on_change is not None:
            self._on_change(True)

    async def stop(self) -> None:
        return None


def asyncpg_dsn(url: str) -> str:
    """The libpq-style DSN asyncpg takes, from epbot's ``postgresql+asyncpg://`` URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLockLeader:
    """The timer leader election on one PostgreSQL database (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        retry_interval: float = 3.0,
        timeout: float = 5.0,
        on_change: Callable[[bool], None] | None = None,
        on_notify: Callable[[], None] | None = None,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self.retry_interval = retry_interval
        self.timeout = timeout
        self._on_change = on_change
        self._on_notify = on_notify
        self._conn: asyncpg.Connection | None = None
        self._io = asyncio.Lock()  # one operation at a time on the connection
        self._leader = False
        self._task: asyncio.Task[None] | None = None
        self._notifies: set[asyncio.Task[None]] = set()
        self.last_error: str | None = None
        self.elections = 0  # how many times this process became leader

    @property
    def is_leader(self) -> bool:
        return self._leader

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"leader": self._leader, "mode": "advisory-lock"}
        if self.last_error:
            out["last_error"] = self.last_error
        return out

    async def start(self) -> None:
        """Try at once (so a lone process leads from its first second), then keep trying."""
        await self._attempt()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop trying and hand the lock back, so a follower takes over at its next try."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._notifies):
            task.cancel()
        if self._conn is not None and self._leader:
            with contextlib.suppress(Exception):
                async with self._io:
                    await self._conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
        self._set(False)
        await self._close()

    def notify(self) -> None:
        """Tell the leader (another process) that the timers changed; best effort."""
        if self._leader or self._conn is None:
            return
        task = asyncio.get_running_loop().create_task(self._send_notify())
        self._notifies.add(task)
        task.add_done_callback(self._notifies.discard)

    async def _send_notify(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            async with self._io:
                await asyncio.wait_for(
                    conn.execute("SELECT pg_notify($1, '')", CHANNEL), self.timeout
                )
        except Exception as exc:  # the leader's poll still finds the timer, a bit later
            log.debug("could not notify the timer leader: %s", type(exc).__name__)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            await self._attempt()

    async def _attempt(self) -> None:
        """Keep the lock (checking the connection is alive), or try to take it."""
        try:
            if self._conn is None or self._conn.is_closed():
                self._set(False)
                await self._connect()
            assert self._conn is not None
            async with self._io:
                if self._leader:
                    await asyncio.wait_for(self._conn.fetchval("SELECT 1"), self.timeout)
                else:
                    got = await asyncio.wait_for(
                        self._conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY),
                        self.timeout,
                    )
                    if got:
                        self.elections += 1
                        log.info("this process now runs the timers (advisory lock taken)")
                    self._set(bool(got))
            self.last_error = None
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # The session (and with it the lock, if we had it) is gone or unusable.
            self.last_error = type(exc).__name__
            if self._leader:
                log.warning("lost the timer lock: %s", type(exc).__name__)
            self._set(False)
            await self._close()

    async def _connect(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(
            self._dsn, timeout=self.timeout, server_settings={"application_name": "epbot-leader"}
        )
        await conn.add_listener(CHANNEL, self._notified)
        self._conn = conn

    def _notified(self, *_args: object) -> None:
        if self._leader and self._on_notify is not None:
            self._on_notify()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()  # never wait on a connection that may be dead

    def _set(self, leader: bool) -> None:
        changed = leader != self._leader
        self._leader = leader
        if changed and self._on_change is not None:
            self._on_change(leader)
