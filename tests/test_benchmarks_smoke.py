"""The benchmarks must keep running: import every one, run the cheapest on its quick path.

No timing is asserted (that is the benchmarks' job); only that they run end to end over real
loopback sockets and report the rows `python -m benchmarks` prints.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

# `benchmarks/` is not an installed package; make the repository root importable (the spawned
# emulator process inherits this path).
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

MODULES = (
    "benchmarks.timers",
    "benchmarks.ack",
    "benchmarks.e2e",
    "benchmarks.client",
    "benchmarks.rehydrate",
)


@pytest.mark.parametrize("name", MODULES)
def test_every_benchmark_imports_and_offers_run(name: str) -> None:
    module = importlib.import_module(name)
    assert callable(module.run)
    assert callable(module.main)


def test_stream_client_benchmark_runs_its_quick_path() -> None:
    from benchmarks import client
    from benchmarks.report import format_table

    rows = client.run(quick=True)

    assert [r["name"] for r in rows] == ["stream call p50", "stream call p99"]
    for r in rows:
        assert r["n"] == client.QUICK_CALLS
        assert isinstance(r["value"], float) and r["value"] > 0
        assert isinstance(r["baseline"], float) and r["baseline"] > 0
    assert isinstance(rows[0]["met"], bool)
    table = format_table(rows)
    assert "stream call p50" in table and "µs" in table


def test_rehydration_benchmark_rebuilds_every_timer_on_its_quick_path() -> None:
    from benchmarks import rehydrate

    (result,) = rehydrate.run(quick=True)  # raises unless every planted ban got its timer

    assert result["name"] == "rehydrate" and result["n"] == rehydrate.QUICK_SIZE
    assert isinstance(result["value"], float) and result["value"] > 0
