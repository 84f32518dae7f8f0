"""Celery tasks: each takes ids and calls a service or the recompute; enqueueing is in recompute_queue.py."""

import datetime

from celery import shared_task

# A write's own enqueue (2 s coalescing, then a run of seconds) has long finished by then, so a plan
# still marked this long after its last write lost that enqueue (broker down, worker killed).
CATCH_UP_AFTER = datetime.timedelta(minutes=1)


# No Celery autoretry: every failure, transient or not, is recorded on the plan and retried with backoff
# by the catch-up below (plans.recompute_failures), so the task itself always ends without raising.
@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def plan_recompute_task(plan_id: int, only_if_behind: bool = False) -> bool:
    """``only_if_behind``: a write's recompute, which an earlier run may already have covered (see
    ``plans.recompute.plan_recompute``); the nightly run recomputes whatever the revisions say."""
    from .recompute_failures import plan_recompute_guarded
    from .recompute_queue import pending_clear

    pending_clear(plan_id=plan_id)
    return plan_recompute_guarded(plan_id=plan_id, only_if_behind=only_if_behind)


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def plan_changes_task(plan_id: int, changes: dict, first_revision: int, last_revision: int) -> bool:
    """A large write's incremental update (``plans.incremental.plan_changes_apply``), then the whole-plan
    recompute when it could not apply; returns whether that was enqueued."""
    from .incremental import Changes, plan_changes_apply
    from .recompute_queue import plan_recompute_enqueue

    changes = Changes.from_json(changes)
    if plan_changes_apply(
        plan_id=plan_id, changes=changes, first_revision=first_revision, last_revision=last_revision, inline=True
    ):
        return plan_recompute_enqueue(plan_id=plan_id)
    return False


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def history_recount_task(plan_id: int, recount: dict) -> None:
    """One batch of a large write's recount of past explanations, then the rest queued behind the tasks that
    came meanwhile (``plans.incremental.history_recount_schedule``). Run twice, it counts the same."""
    from .incremental import Recount, history_recount_step

    history_recount_step(plan_id=plan_id, recount=Recount.from_json(recount))


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def recompute_stale_plans() -> int:
    """Every minute: enqueue the recompute of each plan left marked after a broker outage or a lost task,
    and of each failing plan whose next try is due (``Plan.recompute_retry_at``).

    One query when nothing is stale. The enqueue coalesces with a recompute already pending and is
    safe when the broker is down, so an overlapping run enqueues nothing twice.
    """
    from .recompute_queue import plan_recompute_enqueue
    from .selectors import plan_ids_left_stale

    plan_ids = plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER)
    return sum(plan_recompute_enqueue(plan_id=plan_id) for plan_id in plan_ids)


# Hard limits stay under the broker's visibility timeout (settings), or Redis redelivers a task still running.
@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
def recompute_all_plans() -> int:
    """Nightly: statuses change as dates pass, so every plan is recomputed and its day snapshotted.

    Each plan gets its own task, so one failing plan neither stops the others nor loses its retries.
    """
    from .models import Plan

    plan_ids = list(Plan.objects.values_list("id", flat=True))
    for plan_id in plan_ids:
        plan_recompute_task.delay(plan_id)
    return len(plan_ids)


@shared_task(acks_late=True, soft_time_limit=540, time_limit=600)
def housekeeping() -> dict[str, int]:
    """Nightly: expired idempotency keys, old tombstones and old daily snapshots (see settings)."""
    from .services import housekeeping_run

    return housekeeping_run()


class RemindersNotAllSent(Exception):
    """Some reminders could not be sent (the mail server is down?): the task retries them later."""


@shared_task(
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
    autoretry_for=(RemindersNotAllSent,),
    retry_backoff=300,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=4,
)
def send_reminders(today: str | None = None) -> dict[str, int]:
    """Daily: reminder e-mails to those who have not reported, and escalations (``plans.services.reminders``).

    Idempotent: every message is recorded once per recipient, item and kind, so a second run, a redelivery or
    a retry sends only what has not been sent. ``today`` (ISO date) is for tests and catch-ups by hand.
    """
    from .services import reminders_send

    result = reminders_send(today=datetime.date.fromisoformat(today) if today else None)
    if result.failed:
        raise RemindersNotAllSent(f"{result.failed} reminder messages not sent")
    return {"messages": result.messages, "notifications": result.notifications}


class BriefingsNotAllSent(Exception):
    """Some plans' briefings could not be sent (the mail server is down?): the task retries them later."""


@shared_task(
    acks_late=True,
    soft_time_limit=540,
    time_limit=600,
    autoretry_for=(BriefingsNotAllSent,),
    retry_backoff=600,
    retry_backoff_max=3 * 3600,
    retry_jitter=True,
    max_retries=5,
)
def send_briefings(today: str | None = None) -> dict[str, int]:
    """Monthly: each plan's PDF briefing as of the month just ended, to every manager (``plans.services.briefings``).

    Idempotent: once per plan and month (``BriefingSent``), so a second run, a redelivery or a retry sends only the
    plans not yet sent. ``today`` (ISO date) is for tests and catch-ups by hand.
    """
    from .services import briefings_send

    result = briefings_send(today=datetime.date.fromisoformat(today) if today else None)
    if result.failed:
        raise BriefingsNotAllSent(f"{result.failed} plan briefings not sent")
    return {"plans": result.plans, "messages": result.messages, "already_sent": result.already_sent}
