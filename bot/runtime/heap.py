"""The heap built at start-up, taken out of the cyclic garbage collector's walks.

What `serve` builds before it takes its first request (modules, the registry, Bolt and its
listeners, SQLAlchemy's metadata, the Stream client) lives as long as the process, yet every full
(generation 2) collection walks all of it: 60-80 ms on the benchmark machine, during which no
Slack request is acked; in `python -m benchmarks.ack` the burst that met one waited ~85 ms longer
than the others and set the p99. `gc.freeze()` moves those objects to a permanent generation, so a
later full collection walks only what was allocated since (~10 ms there). Collect first, so no
garbage is frozen with them.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Call once, after start-up and before serving load."""
    gc.collect()
    gc.freeze()
