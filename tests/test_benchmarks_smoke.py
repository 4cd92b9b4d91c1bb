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
    "benchmarks.cases",
    "benchmarks.roster",
    "benchmarks.alerts",
    "benchmarks.forms",
    "benchmarks.replicas",
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


def test_case_history_benchmark_runs_its_quick_path() -> None:
    from benchmarks import cases

    rows = cases.run(quick=True)  # raises if the store's SQL no longer matches the baseline's

    assert [r["name"] for r in rows] == [
        "cases page p50",
        "cases page p99",
        "cases counts p99",
        "/cases lookup p50",
        "/cases lookup p99",
        "case write p50",
        "case write p99",
    ]
    for r in rows:
        assert r["n"] == cases.QUICK_CASES
        assert isinstance(r["value"], float) and r["value"] > 0
        assert isinstance(r["baseline"], float) and r["baseline"] > 0
    assert rows[4]["goal"] is None  # the goals are for the 1M-case store, not the quick one


def test_the_no_store_stand_in_replaces_every_case_store_method() -> None:
    """The e2e benchmark's "without the case store" side must never reach a database: every
    public CaseStore method is overridden (a new one would fail the benchmark, not write)."""
    from benchmarks.nostore import NoCaseStore
    from bot.cases import CaseStore

    public = {name for name in dir(CaseStore) if not name.startswith("_")}
    assert public - set(vars(NoCaseStore)) == set()


async def test_the_case_book_runs_a_command_through_the_no_store_stand_in() -> None:
    from benchmarks.nostore import NoCaseStore
    from bot.cases import Kind, MessagePurpose, Outcome
    from bot.core.model import Actor, MessageRef, Plan, Role
    from bot.moderation.history.book import CaseBook
    from bot.util.clock import ManualClock

    clock = ManualClock()
    book = CaseBook(NoCaseStore(clock), clock)
    maria = Actor("U0ADMIN01", "maria", Role.ADMIN)
    plan = Plan("kick `sara` from `default:bench`", "sara", "default:bench", kind=Kind.KICK)

    first = await book.open(maria, plan, "req-1")
    await book.finish(first, Outcome.DONE)
    await book.link(first, MessageRef("C0MODLOG", "1.000001"), MessagePurpose.AUDIT)
    second = await book.open(maria, plan, "req-2")

    assert first.recorded and first.numbers == [1] and second.numbers == [2]
    assert book.pending == 0
    assert await book.counts("sara") == {}
    assert await book.store.open_bans() == {}


def test_roster_benchmark_runs_its_quick_path() -> None:
    from benchmarks import roster

    rows = roster.run(quick=True)  # raises unless every side got answers

    assert [r["name"] for r in rows] == [
        "/roster 100 p50",
        "/roster 100 p99",
        "/roster 100 ack p99",
        "/roster 100 p99, 5 at once",
        "/roster failed replies",
    ]
    assert rows[-1]["value"] == 0.0 and rows[-1]["met"] is True  # every reply a roster
    for r in rows[:-1]:
        assert isinstance(r["value"], float) and r["value"] > 0
        assert isinstance(r["baseline"], float) and r["baseline"] > 0


def test_replicas_benchmark_reports_the_redis_rows_as_not_run_without_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import replicas

    monkeypatch.setattr(replicas.shutil, "which", lambda name: None)

    rows = replicas.run(quick=True, part="ack")  # raises unless callmod replied to every /kick

    names = [str(r["name"]) for r in rows]
    assert "ack p99, Redis, keep-alive (not run: redis-server is not on PATH)" in names
    assert "ack p99, new conns, 2 processes (not run: redis-server is not on PATH)" in names
    (one,) = [r for r in rows if r["name"] == "ack p99, new conns, 1 process"]
    assert isinstance(one["value"], float) and isinstance(one["baseline"], float)
    assert rows[-1]["name"] == "replicas failed /kick replies" and rows[-1]["met"] is True
