"""Apply Alembic migrations (``epbot db upgrade`` and at start-up)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


def migrations_dir() -> Path:
    """``$EPBOT_MIGRATIONS_DIR`` if set (the container sets /app/migrations), else beside the
    source tree (editable install), else ./migrations."""
    override = os.environ.get("EPBOT_MIGRATIONS_DIR")
    if override:
        if (Path(override) / "env.py").is_file():
            return Path(override)
        raise FileNotFoundError(f"EPBOT_MIGRATIONS_DIR={override} holds no Alembic env.py")
    for candidate in (MIGRATIONS_DIR, Path.cwd() / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        f"migrations not found at {MIGRATIONS_DIR} or ./migrations: install epbot from its "
        "source tree (pip install -e .), run it from a folder that holds migrations/, "
        "or set EPBOT_MIGRATIONS_DIR"
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
