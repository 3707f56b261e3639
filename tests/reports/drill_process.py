"""One process of the two-process drill test: wait for the shared start instant, run the due
drills once, print how many this process started. Run as ``python -m tests.reports.drill_process
DATABASE_URL HOLDER START_AT_UNIX``."""

from __future__ import annotations

import asyncio
import sys
import time

from epbot.adapters.clock import FakeClock
from epbot.adapters.db.engine import make_engine
from epbot.adapters.db.store import SqlStore
from epbot.adapters.playbook_files import PlaybookLibrary
from epbot.services.incidents import IncidentService
from tests.reports.test_drills import DAILY_0900, _drills
from tests.services.conftest import PLAYBOOKS, START


async def run(url: str, holder: str, start_at: float) -> int:
    library = PlaybookLibrary(PLAYBOOKS)
    library.load()
    engine = make_engine(url)
    try:
        service = IncidentService(
            store=SqlStore(engine), clock=FakeClock(START), playbooks=library, holder=holder
        )
        drills = _drills(service, library, DAILY_0900)
        async with engine.connect():  # connected before the start instant
            pass
        await asyncio.sleep(max(0.0, start_at - time.time()))
        return len(await drills.run_due(START))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.stdout.write(f"{asyncio.run(run(sys.argv[1], sys.argv[2], float(sys.argv[3])))}\n")
