"""The recompute queue: enqueue a plan's recompute, coalescing a burst of writes, safe when the broker is down."""

import logging

from celery import current_app
from django.core.cache import cache

from .failopen import Breaker, fail_open

logger = logging.getLogger(__name__)

# Coalescing: a write enqueues a recompute only when none is pending for the plan; the task clears
# the flag before it reads, so writes landing during a run enqueue exactly one more.
PENDING_KEY = "plans:recompute-pending:{plan_id}"
PENDING_TTL = 300
COALESCE_SECONDS = 2
# Looked up by name in the registry (plans.apps imports plans.tasks when Django starts), because the
# task's module imports the services that enqueue through here: importing it would close a cycle.
RECOMPUTE_TASK = "plans.tasks.plan_recompute_task"
# After a failed publish, requests skip the broker for a while instead of each waiting for its timeout.
BROKER_BACKOFF_SECONDS = 30
broker_breaker = Breaker(BROKER_BACKOFF_SECONDS)


def plan_recompute_enqueue(*, plan_id: int) -> bool:
    """Ask for a recompute of the plan; returns False when nothing could be enqueued.

    Never raises: a write has already committed and the plan stays marked as needing a recompute
    (Plan.data_revision), which the next recompute from any trigger catches up.
    """
    if broker_breaker.is_down():
        logger.warning("Broker marked down; plan %s stays marked for recompute", plan_id)
        return False
    # The cache lives on the broker's Redis (settings.REDIS_URL): if it does not answer within its
    # short timeout, neither will the broker, so the breaker spares the request a second wait.
    added = fail_open(
        lambda: cache.add(PENDING_KEY.format(plan_id=plan_id), 1, timeout=PENDING_TTL),
        None,
        "plan %s stays marked for recompute",
        plan_id,
        breaker=broker_breaker,
    )
    if added is None:
        return False
    if not added:
        return True
    try:
        # With several workers a task may find its write already computed by another's run: it then skips.
        current_app.tasks[RECOMPUTE_TASK].apply_async(
            args=[plan_id], kwargs={"only_if_behind": True}, countdown=COALESCE_SECONDS
        )
        return True
    except Exception:
        logger.exception("Could not enqueue the recompute of plan %s; it stays marked as stale", plan_id)
        broker_breaker.trip()
        pending_clear(plan_id=plan_id)
        return False


def pending_clear(*, plan_id: int) -> None:
    """Let the next write enqueue a recompute of the plan again."""
    fail_open(
        lambda: cache.delete(PENDING_KEY.format(plan_id=plan_id)),
        None,
        "the pending recompute flag of plan %s was not cleared",
        plan_id,
    )
