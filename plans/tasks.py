"""Thin Celery tasks: take ids, call services. Enqueueing is safe when the broker is down."""

import contextlib
import logging
import time

from celery import shared_task
from django.core.cache import cache
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)

# Coalescing: a write enqueues a recompute only when none is pending for the plan; the task clears
# the flag before it reads, so writes landing during a run enqueue exactly one more.
PENDING_KEY = "plans:recompute-pending:{plan_id}"
PENDING_TTL = 300
COALESCE_SECONDS = 2
TRANSIENT_ERRORS = (ConnectionError, TimeoutError, OperationalError, InterfaceError)
# After a failed publish, requests skip the broker for a while instead of each waiting for its timeout.
BROKER_BACKOFF_SECONDS = 30
_broker_down_until = 0.0


def plan_recompute_enqueue(*, plan_id: int) -> bool:
    """Ask for a recompute of the plan; returns False when nothing could be enqueued.

    Never raises: a write has already committed and the plan stays marked as needing a recompute
    (Plan.data_revision), which the next recompute from any trigger catches up.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.warning("Broker marked down; plan %s stays marked for recompute", plan_id)
        return False
    try:
        if not cache.add(PENDING_KEY.format(plan_id=plan_id), 1, timeout=PENDING_TTL):
            return True
    except Exception:
        # The cache lives on the broker's Redis (settings.REDIS_URL): if it does not answer within its
        # short timeout, neither will the broker, so the request does not wait a second time for it.
        logger.warning("Redis unavailable; plan %s stays marked for recompute", plan_id)
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        return False
    try:
        plan_recompute_task.apply_async(args=[plan_id], countdown=COALESCE_SECONDS)
        return True
    except Exception:
        logger.exception("Could not enqueue the recompute of plan %s; it stays marked as stale", plan_id)
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        with contextlib.suppress(Exception):
            cache.delete(PENDING_KEY.format(plan_id=plan_id))
        return False


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=240,
    time_limit=300,
)
def plan_recompute_task(self, plan_id: int) -> None:
    from .recompute import plan_recompute

    try:
        cache.delete(PENDING_KEY.format(plan_id=plan_id))
    except Exception:
        logger.warning("Cache unavailable while clearing the pending flag of plan %s", plan_id)
    plan_recompute(plan_id=plan_id)


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def recompute_all_plans() -> int:
    """Nightly: statuses change as dates pass, so every plan is recomputed and its day snapshotted.

    Each plan gets its own task, so one failing plan neither stops the others nor loses its retries.
    """
    from .models import Plan

    plan_ids = list(Plan.objects.values_list("id", flat=True))
    for plan_id in plan_ids:
        plan_recompute_task.delay(plan_id)
    return len(plan_ids)


@shared_task(acks_late=True, soft_time_limit=1800, time_limit=1900)
def housekeeping() -> dict[str, int]:
    """Nightly: expired idempotency keys, old tombstones and old daily snapshots (see settings)."""
    from .services import housekeeping_run

    return housekeeping_run()
