"""The page cache's generation: one counter in the cache (Redis) that every change a page can show moves.

Cached page bodies and the plan facts they are keyed on (plans.views.pagecache) are kept with the generation
they were read at, and used only while it is still the current one; so a warm page is one cache round trip
and no query. What moves it:

- every write of a plan's data or definitions (``services.plan_mark_changed``), once now and once more after
  the write's status update has committed (the incremental update, or the enqueue of a whole-plan one);
- every whole-plan recompute and every recorded or cleared recompute failure (``pages_changed``);
- any save or delete of a plan, team or user row (signals: the admin's pages and the factories write them).

It moves twice around a write: at once (a reader in between reads the old rows and keeps them under the new
generation) and when the transaction commits (which retires what such a reader kept). A missing generation
(evicted, or a flushed cache) starts again from the clock, so it never repeats a value. A change made behind
the services' back (SQL by hand) shows once plans.views.pagecache.FACTS_MAX_AGE has passed.

Imports nothing from the project but the fail-open helper: services, the recompute and the views all use it.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

from .failopen import Breaker, fail_open

GENERATION_KEY = "pages:generation"
_breaker = Breaker(seconds=30)


def generation() -> int | None:
    """The current generation (None when the cache cannot be read); a missing one starts at the clock."""

    def read():
        value = cache.get(GENERATION_KEY)
        if value is None:
            cache.add(GENERATION_KEY, time.time_ns(), timeout=None)
            value = cache.get(GENERATION_KEY)
        return value

    return fail_open(read, None, "page cache generation not read", breaker=_breaker)


def generation_bump() -> None:
    """Retire every cached page body and plan fact now."""

    def bump():
        try:
            cache.incr(GENERATION_KEY)
        except ValueError:  # missing: start afresh
            cache.set(GENERATION_KEY, time.time_ns(), timeout=None)

    fail_open(bump, None, "page cache generation not bumped", breaker=_breaker)


def pages_changed() -> None:
    """Something pages show changed in the current transaction: retire cached pages now and once it commits."""
    generation_bump()
    transaction.on_commit(generation_bump)
