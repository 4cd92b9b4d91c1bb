"""`python -m benchmarks [--quick]`: every benchmark, one table, saved with the machine's details
to `benchmarks/results/latest.md`."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    ack,
    alerts,
    cases,
    client,
    e2e,
    forms,
    rehydrate,
    replicas,
    roster,
    timers,
)
from benchmarks.procs import placement
from benchmarks.report import Row, format_table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
TIMER_SIZES = (1_000, 10_000, 100_000)
QUICK_TIMER_SIZES = (1_000,)


def _suites(quick: bool) -> list[tuple[str, Callable[[], list[Row]]]]:
    sizes = QUICK_TIMER_SIZES if quick else TIMER_SIZES
    return [
        ("timers", lambda: timers.run(sizes)),
        ("ack", lambda: ack.run(quick=quick)),
        ("e2e", lambda: e2e.run(quick=quick)),
        ("client", lambda: client.run(quick=quick)),
        ("rehydrate", lambda: rehydrate.run(quick=quick)),
        ("cases", lambda: cases.run(quick=quick)),
        ("roster", lambda: roster.run(quick=quick)),
        ("forms", lambda: forms.run(quick=quick)),
        ("alerts", lambda: alerts.run(quick=quick)),
        ("replicas", lambda: replicas.run(quick=quick)),
    ]


def machine() -> list[str]:
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}",
        f"- platform: {platform.platform()}",
        f"- CPUs: {os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})"
        if hasattr(os, "sched_getaffinity")
        else f"- CPUs: {os.cpu_count()}",
        f"- python: {sys.version.split()[0]} ({platform.python_implementation()})",
        f"- placement: {placement().describe()}",
    ]


def render(rows: list[Row], *, quick: bool, seconds: float) -> str:
    notes = [
        ack.NOTES,
        e2e.NOTES,
        client.NOTES,
        rehydrate.NOTES,
        cases.NOTES,
        roster.NOTES,
        forms.NOTES,
        alerts.NOTES,
        replicas.NOTES,
        "Timers: see benchmarks/timers.py.",
    ]
    return "\n".join(
        [
            "# callmod benchmarks" + (" (quick)" if quick else ""),
            "",
            f"Command: `python -m benchmarks{' --quick' if quick else ''}` ({seconds:.0f} s)",
            "",
            *machine(),
            "",
            format_table(rows),
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows: list[Row] = []
    for name, suite in _suites(args.quick):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += suite()
    seconds = time.perf_counter() - started
    text = render(rows, quick=args.quick, seconds=seconds)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(format_table(rows))
    print(f"({seconds:.0f} s; written to {RESULTS})")


if __name__ == "__main__":
    main()
