"""Report fixtures: services on the fake clock (from tests/services) and the CLI's settings."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.services.conftest import PLAYBOOKS, clock, library, make_service, service

__all__ = ["clock", "library", "make_service", "service"]


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Point `epbot` at the test database and the shipped playbooks, in a locale."""

    def use(locale: str = "zh-CN") -> None:
        monkeypatch.setenv("EPBOT_DATABASE_URL", database_url)
        monkeypatch.setenv("EPBOT_PLAYBOOKS_DIR", str(PLAYBOOKS))
        monkeypatch.setenv("EPBOT_MATRIX", str(PLAYBOOKS / "matrix.yaml"))
        monkeypatch.setenv("EPBOT_LOCALE", locale)
        monkeypatch.setenv("EPBOT_TIMEZONE", "Asia/Shanghai")

    return use
