"""When and how long to wait before trying a Stream request again (tenacity policy).

Everything waits on the injected clock, and one `Deadline` bounds the whole operation: retries
stop when the next wait would not leave time for another attempt.
"""

from __future__ import annotations

import logging
import time

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from bot.stream.errors import StreamAPIError
from bot.util.clock import Clock

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 2.0
BACKOFF_JITTER = 0.2
RATE_LIMIT_WAIT_CAP = 5.0
MAX_ATTEMPTS = 10
# Do not sleep into the last sliver of the deadline: an attempt needs some time to run.
MIN_ATTEMPT_SECONDS = 0.05


class Deadline:
    """A time budget checked against both the injected clock and the real monotonic clock.

    With a real clock the two agree; with a manual test clock, sleeps move the injected clock and
    slow answers move the real one, and either running out ends the operation.
    """

    def __init__(self, clock: Clock, seconds: float) -> None:
        self.seconds = seconds
        self._clock = clock
        self._clock_start = clock.time()
        self._real_start = time.monotonic()

    def remaining(self) -> float:
        elapsed = max(self._clock.time() - self._clock_start, time.monotonic() - self._real_start)
        return max(0.0, self.seconds - elapsed)


class _WaitForStream(wait_base):
    """Wait as long as a 429 asked (capped), otherwise jittered exponential backoff."""

    def __init__(self) -> None:
        self._backoff = wait_exponential(
            multiplier=BACKOFF_INITIAL, exp_base=2, max=BACKOFF_MAX - BACKOFF_JITTER
        ) + wait_random(0, BACKOFF_JITTER)

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, StreamAPIError) and error.retry_after:
            return min(error.retry_after, RATE_LIMIT_WAIT_CAP)
        return float(self._backoff(retry_state))


class _StopAtDeadline(stop_base):
    def __init__(self, deadline: Deadline) -> None:
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep + MIN_ATTEMPT_SECONDS > self._deadline.remaining()


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, StreamAPIError) and error.retryable


def _log_retry(retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    if isinstance(error, StreamAPIError):
        log.info(
            "stream %s attempt %d failed (status=%s code=%s), retrying in %.2f s",
            error.operation,
            retry_state.attempt_number,
            error.status,
            error.code,
            retry_state.upcoming_sleep,
        )


def stream_retrying(clock: Clock, deadline: Deadline) -> AsyncRetrying:
    return AsyncRetrying(
        sleep=clock.sleep,
        wait=_WaitForStream(),
        stop=_StopAtDeadline(deadline) | stop_after_attempt(MAX_ATTEMPTS),
        retry=retry_if_exception(_is_retryable),
        before_sleep=_log_retry,
        reraise=True,
    )
