"""Benchmark rows and the one table they print as (markdown, readable in a terminal too).

A row is the dict `benchmarks.timers` already returns: name, n, value, unit, baseline, ratio,
goal (a phrase or None) and met (True/False, or None when there is no goal).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

Row = dict[str, object]

HEADER = ("metric", "n", "callmod", "baseline", "ratio", "goal", "met")


def row(
    name: str,
    n: int,
    value: float,
    baseline: float | None,
    unit: str,
    *,
    goal: str | None = None,
    met: bool | None = None,
) -> Row:
    return {
        "name": name,
        "n": n,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "ratio": value / baseline if baseline else None,
        "goal": goal,
        "met": met,
    }


def percentile(samples: Sequence[float], pct: int) -> float:
    """The pct-th percentile (inclusive method, as benchmarks.timers computes it)."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[pct - 1]


def _cell(value: object, unit: object) -> str:
    if not isinstance(value, float | int):
        return ""
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{number} {unit}"


def _verdict(met: object) -> str:
    if met is None:
        return ""
    return "yes" if met else "**NO**"


def format_table(rows: Sequence[Row]) -> str:
    lines: list[tuple[str, ...]] = [HEADER]
    for r in rows:
        ratio = r["ratio"]
        lines.append(
            (
                str(r["name"]),
                f"{r['n']:,}",
                _cell(r["value"], r["unit"]),
                _cell(r["baseline"], r["unit"]),
                f"{ratio:.2f}×" if isinstance(ratio, float) and math.isfinite(ratio) else "",
                "" if r["goal"] is None else str(r["goal"]),
                _verdict(r["met"]),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADER))]
    rendered = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        for line in lines
    ]
    rendered.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(rendered)
