"""Apply Alembic migrations (``epbot db upgrade`` and at start-up)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def migrations_dir() -> Path:
    """Beside the source tree (editable install), else ./migrations (the container's /app)."""
    for candidate in (MIGRATIONS_DIR, Path.cwd() / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"migrations not found at {MIGRATIONS_DIR} or ./migrations: install epbot from its "
        "source tree (pip install -e .) or run it from a folder that holds migrations/"
    )


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision`` (blocking; runs its own event loop in Alembic)."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """``upgrade`` from async code: Alembic's env runs its own loop, so use a thread."""
    await asyncio.to_thread(upgrade, database_url, revision)
