"""Failing open when Redis is down: call it, or log and return a default; and skip it for a while after a failure.

Throttles, the sign-in lock and the recompute queue are conveniences around a write or a sign-in that
must still succeed when Redis does not answer; an outage costs their service, never the request.
"""

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Breaker:
    """Marked down for ``seconds`` after a failure, so callers skip Redis instead of each waiting for its timeout."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.down_until = 0.0

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def trip(self) -> None:
        self.down_until = time.monotonic() + self.seconds

    def reset(self) -> None:
        self.down_until = 0.0


def fail_open(fn: Callable[[], T], default: T, what: str, *args, breaker: Breaker | None = None) -> T:
    """``fn()``, or ``default`` when it raises: the failure is logged as "Cache unavailable; <what % args>".

    With a breaker, a failure marks it down, and while it is down ``fn`` is not called at all.
    """
    if breaker is not None and breaker.is_down():
        return default
    try:
        return fn()
    except Exception:
        logger.warning("Cache unavailable; " + what, *args, exc_info=True)
        if breaker is not None:
            breaker.trip()
        return default
