"""``housekeeping_run``: the nightly delete of expired idempotency keys, old tombstones and old daily snapshots."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import IdempotencyKey, StatusSnapshot, Tombstone


@transaction.atomic
def housekeeping_run(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete what has outlived its use: expired idempotency keys, tombstones past their retention,
    and snapshots of days other than month ends past theirs. Returns the rows deleted per kind."""
    from ..dates import month_ends_between

    now = now or timezone.now()
    keys = IdempotencyKey.objects.filter(created_at__lt=now - IdempotencyKey.LIFETIME)
    tombstones = Tombstone.objects.filter(
        deleted_at__lt=now - datetime.timedelta(days=settings.TRACKER_TOMBSTONE_RETENTION_DAYS)
    )
    cutoff = timezone.localdate(now) - datetime.timedelta(days=settings.TRACKER_DAILY_SNAPSHOT_RETENTION_DAYS)
    snapshots = StatusSnapshot.objects.filter(as_of__lt=cutoff)
    oldest = snapshots.order_by("as_of").values_list("as_of", flat=True).first()
    if oldest is not None:
        snapshots = snapshots.exclude(as_of__in=month_ends_between(oldest, cutoff))
    return {
        "idempotency_keys": keys.delete()[0],
        "tombstones": tombstones.delete()[0],
        "daily_snapshots": snapshots.delete()[0],
    }
