"""A failed recompute: recorded on its plan, retried with backoff, cleared by the next success.

A recompute runs in one transaction under the plan's advisory lock (plans.recompute); when it raises,
that transaction has rolled back, so the failure is written in a transaction of its own. The plan
stays marked (its data_revision is ahead) and keeps its last good statuses; the catch-up task
(plans.tasks.recompute_stale_plans) tries again once ``recompute_retry_at`` has passed: one minute
after the first failure, doubling up to an hour. A write still enqueues at once, as it may be the fix.

The next try is kept on the plan, not in a Celery countdown: Redis redelivers a message whose ETA
lies beyond the visibility timeout (12 minutes) and loses it on a restart; the plan's row keeps it.
"""

import datetime
import logging

from django.db import connection, transaction
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

from .models import Plan
from .page_generation import pages_changed
from .recompute import plan_recompute

logger = logging.getLogger(__name__)

RETRY_FIRST = datetime.timedelta(minutes=1)
RETRY_MAX = datetime.timedelta(hours=1)
ERROR_MAX_LENGTH = Plan._meta.get_field("recompute_error").max_length
CLEARED = {
    "recompute_failures": 0,
    "recompute_failing_since": None,
    "recompute_failed_at": None,
    "recompute_error": "",
    "recompute_retry_at": None,
}


def retry_delay(failures: int) -> datetime.timedelta:
    """The wait after ``failures`` failures in a row: 1, 2, 4 ... minutes, at most an hour."""
    doublings = min(max(failures - 1, 0), 16)  # past the cap anyway; keeps the power small
    return min(RETRY_FIRST * 2**doublings, RETRY_MAX)


def error_kind(exc: BaseException) -> str:
    """What the plan records of an error: its class only, since a message may quote data or a connection string."""
    return type(exc).__qualname__[:ERROR_MAX_LENGTH]


def plan_recompute_guarded(*, plan_id: int, only_if_behind: bool = False) -> bool:
    """Recompute the plan; on any error record the failure and return False instead of raising.

    The worker's task and the in-process (eager) run after a write both come here, so neither a soft
    time limit in the worker nor a broken plan in-process turns a committed write into an error.
    """
    started = timezone.now()
    try:
        with transaction.atomic():
            if plan_recompute(plan_id=plan_id, only_if_behind=only_if_behind) is not None:
                # In the recompute's transaction, so statuses and "no longer failing" commit together.
                Plan.objects.filter(pk=plan_id, recompute_failures__gt=0).update(**CLEARED)
    except Exception as exc:  # every kind, SoftTimeLimitExceeded included: all are retried the same way
        failures = recompute_failure_record(plan_id=plan_id, error=error_kind(exc), started=started)
        logger.error(
            "Recompute of plan %s failed (%s in a row; retried in %s): %r",
            plan_id,
            failures,
            retry_delay(failures or 1),
            exc,
            exc_info=exc,
        )
        return False
    return True


def recompute_failure_record(*, plan_id: int, error: str, started: datetime.datetime) -> int | None:
    """Count a failed recompute against the plan and set its next try; returns the failures in a row.

    Records nothing (None) when the plan is gone, when a recompute succeeded since this one started
    (its success is the newer news), or when the database cannot take the write either (it stays
    marked, so the catch-up retries it anyway).
    """
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()  # a dropped connection: the next query reconnects
    try:
        with transaction.atomic():
            rows = Plan.objects.select_for_update().filter(pk=plan_id).exclude(computed_at__gte=started)
            plan = rows.only("recompute_failures").first()
            if plan is None:
                return None
            failures = plan.recompute_failures + 1
            Plan.objects.filter(pk=plan_id).update(
                recompute_failures=failures,
                recompute_failing_since=Coalesce("recompute_failing_since", Now()),
                recompute_failed_at=Now(),
                recompute_error=error,
                # The database clock, as the catch-up compares with it (plans.selectors.plan_ids_left_stale).
                recompute_retry_at=Now() + retry_delay(failures),
            )
            pages_changed()  # the banner that names the failure
            return failures
    except Exception:
        logger.exception("The failed recompute of plan %s could not be recorded; it stays marked", plan_id)
        return None
