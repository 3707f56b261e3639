"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 30})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class DatabaseUnreachable(Exception):
    """The database did not answer; the message names it (password hidden) and says why."""


def safe_url(url: str) -> str:
    """``url`` with its password shown as ``***``."""
    return make_url(url).render_as_string(hide_password=True)


async def ping(url: str, *, within: float = 5.0) -> None:
    """Connect and run ``SELECT 1`` within ``within`` seconds, else raise DatabaseUnreachable.

    Run before migrating, so an unreachable database stops start-up in seconds with one
    line instead of a driver traceback (asyncpg alone waits 60 s for a silent host).
    """
    connect_args: dict[str, Any] = {"timeout": within}
    engine = make_engine(url, poolclass=NullPool, connect_args=connect_args)
    try:
        async with asyncio.timeout(within), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except TimeoutError:
        reason = f"no answer within {within:g} s"
    except DBAPIError as exc:  # the driver's own message, without SQLAlchemy's SQL echo
        orig = exc.orig if exc.orig is not None else exc
        reason = _reason(orig.__cause__ or orig)  # asyncpg's error sits behind the adapter
    except Exception as exc:  # OSError from the socket, driver errors, DNS failures
        reason = _reason(exc)
    else:
        return
    finally:
        await engine.dispose()
    raise DatabaseUnreachable(f"cannot reach the database at {safe_url(url)}: {reason}")


def _reason(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
