"""Failing open when Redis is down: call it, or log and return a default; and skip it for a while after a failure.

Throttles, the sign-in lock and the recompute queue are conveniences around a write or a sign-in that
must still succeed when Redis does not answer; an outage costs their service, never the request.
"""

import logging
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Breaker:
    """Marked down for ``seconds`` after a failure, so callers skip Redis instead of each waiting for its timeout.

    ``Breaker.instances`` holds every breaker of the process, so that all can be reset at once (``breakers_reset``).
    """

    instances: "weakref.WeakSet[Breaker]" = weakref.WeakSet()

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.down_until = 0.0
        Breaker.instances.add(self)

    def is_down(self) -> bool:
        return time.monotonic() < self.down_until

    def trip(self) -> None:
        self.down_until = time.monotonic() + self.seconds

    def reset(self) -> None:
        self.down_until = 0.0


def breakers_reset() -> None:
    """Mark every breaker of the process up: Redis is to be tried again at once (the test suite, between tests)."""
    for breaker in list(Breaker.instances):
        breaker.reset()


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
