"""Every benchmark in ``bench/`` still runs, on a size that takes seconds.

The benchmarks are not timed here (their figures are read from a real run, see
docs/performance.md); this only keeps them from rotting: `timers` and `load` stopped
running when the services moved behind ports, and nobody noticed for a whole session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMALL = {
    "faults": ["--seed", "1"],
    "storm": ["--count", "3", "--seconds", "1"],
    # The worst day, both at once: a storm while Slack answers 30% of calls 5xx or 429.
    "storm --faults": ["--count", "3", "--seconds", "1", "--faults", "1"],
    "ack": ["--requests", "20", "--concurrency", "5", "--rounds", "1"],
    "timers": ["--db", "sqlite", "--pending", "100", "--spread", "5", "--measure", "3"],
    "load": ["--db", "sqlite", "--incidents", "20"],
}
FIGURES = {
    "faults": {"extra_delay_seconds", "lost_rows", "duplicated_posts"},
    "storm": {"last_channel_vs_tier_floor", "lost_rows", "duplicated_posts"},
    "storm --faults": {"last_channel_vs_tier_floor", "lost_rows", "duplicated_posts", "faults"},
    "ack": {"bare_bolt_seconds", "epbot_seconds", "p50_ratio"},
    "timers": {"lateness_seconds", "still_pending"},
    "load": {"max_rss_mb", "tick_seconds", "tick_cost_ratio"},
}


@pytest.mark.parametrize("run", sorted(SMALL))
def test_the_benchmark_runs_and_prints_its_figures(run: str) -> None:
    bench = run.split()[0]
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *SMALL[run]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert all(line["bench"] == bench for line in lines)
    assert FIGURES[run] <= {line["figure"] for line in lines}
    figures = {line["figure"]: line["value"] for line in lines}
    if bench == "storm":
        assert figures["lost_rows"] == 0
        assert figures["duplicated_posts"] == 0
        assert figures["channels_created"] == 3
    if run == "storm --faults":
        assert figures["faults"]["calls_failed"] > 0  # the faults were on
    if bench == "faults":  # whatever the delays, Slack's faults lose and repeat nothing
        assert figures["lost_rows"] == {"healthy": 0, "faulty": 0}
        assert figures["duplicated_posts"] == {"healthy": 0, "faulty": 0}
        assert figures["messages"]["faulty"] == figures["messages"]["healthy"]
