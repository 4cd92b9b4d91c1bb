"""Python's cyclic garbage collector held off while Slack requests wait for their ack.

A collection stops the event loop. With the start-up heap frozen (`bot/runtime/heap.py`) a full
one still took ~10 ms on the benchmark machine, and it fell on whichever burst of acks was being
answered: in `python -m benchmarks.ack` that burst's acks were the slowest of the run. Python can
only switch automatic collection off and on, not schedule it, so: while a Slack request is
waiting for its ack (`InFlight` holds the collector), automatic collection is off; when none is,
it is on again, and the collection the allocations have earned runs then, in post-ack time.

A hold is bounded: one older than `MAX_HOLD` switches collection back on until every holder has
let go, so a steady stream of requests cannot turn it off for good. Holders are counted per
process (several `InFlight`s may share one, as the replica tests do), and collection is only
switched back on if a hold switched it off.
"""

from __future__ import annotations

import gc
import time

MAX_HOLD = 0.5  # seconds; also how long post-ack work yields to acks (bot/util/inflight.py)


class _Collector:
    def __init__(self) -> None:
        self.holders = 0
        self.since = 0.0
        self.switched_off = False  # by a hold: ours to switch back on

    def hold(self) -> None:
        self.holders += 1
        if self.holders == 1:
            self.since = time.monotonic()
            if gc.isenabled():
                gc.disable()
                self.switched_off = True
        self.check()

    def check(self) -> None:
        """Called as requests keep arriving: a hold past `MAX_HOLD` ends here."""
        if self.switched_off and time.monotonic() - self.since > MAX_HOLD:
            self._switch_on()

    def release(self) -> None:
        self.holders = max(0, self.holders - 1)
        if self.holders == 0 and self.switched_off:
            self._switch_on()

    def _switch_on(self) -> None:
        gc.enable()
        self.switched_off = False


_collector = _Collector()
hold = _collector.hold
check = _collector.check
release = _collector.release
