"""``housekeeping_run``: the nightly delete of expired idempotency keys, old tombstones and stray daily snapshots."""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..dates import stray_snapshot_days
from ..models import IdempotencyKey, StatusSnapshot, Tombstone


@transaction.atomic
def housekeeping_run(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete what has outlived its use: expired idempotency keys, tombstones past their retention, and
    snapshots of days that are neither month ends nor a plan's latest day (a replay of a past date with
    ``recompute_rollups --as-of``, or a plan not recomputed since). Returns the rows deleted per kind."""
    now = now or timezone.now()
    keys = IdempotencyKey.objects.filter(created_at__lt=now - IdempotencyKey.LIFETIME)
    tombstones = Tombstone.objects.filter(
        deleted_at__lt=now - datetime.timedelta(days=settings.TRACKER_TOMBSTONE_RETENTION_DAYS)
    )
    days = defaultdict(list)
    for plan_id, day in StatusSnapshot.objects.values_list("plan_id", "as_of").distinct().order_by():
        days[plan_id].append(day)
    stray = Q(pk__in=[])
    for plan_id, plan_days in days.items():
        if dropped := stray_snapshot_days(plan_days):
            stray |= Q(plan_id=plan_id, as_of__in=dropped)
    return {
        "idempotency_keys": keys.delete()[0],
        "tombstones": tombstones.delete()[0],
        "daily_snapshots": StatusSnapshot.objects.filter(stray).delete()[0],
    }
