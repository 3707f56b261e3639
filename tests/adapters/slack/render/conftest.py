"""The playbooks every rendering test renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from epbot.adapters.playbook_files import PlaybookLibrary, PlaybookSet


@pytest.fixture(scope="module")
def library() -> PlaybookSet:
    return PlaybookLibrary(Path("playbooks")).load()
