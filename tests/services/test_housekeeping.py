"""housekeeping_run: what outlived its use goes; month-end history and recent rows stay."""

import datetime

import pytest

from plans.models import IdempotencyKey, StatusSnapshot, Tombstone
from plans.services import housekeeping_run
from tests.factories import PlanFactory

pytestmark = pytest.mark.django_db
NOW = datetime.datetime(2027, 3, 1, 12, tzinfo=datetime.UTC)


def snapshot(plan, day):
    return StatusSnapshot.objects.create(plan=plan, item_type="plan", item_id=plan.pk, as_of=day, status="on_track")


def test_expired_idempotency_keys_are_deleted_and_fresh_ones_kept():
    old = IdempotencyKey.objects.create(
        actor="token:1", key="a", request_hash="x", created_at=NOW - datetime.timedelta(hours=25)
    )
    fresh = IdempotencyKey.objects.create(
        actor="token:1", key="b", request_hash="x", created_at=NOW - datetime.timedelta(hours=1)
    )
    assert housekeeping_run(now=NOW)["idempotency_keys"] == 1
    assert list(IdempotencyKey.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not IdempotencyKey.objects.filter(pk=old.pk).exists()


def test_tombstones_past_their_retention_are_deleted(settings):
    settings.TRACKER_TOMBSTONE_RETENTION_DAYS = 30
    Tombstone.objects.create(resource="kpis", item_id=1, plan_id=1, deleted_at=NOW - datetime.timedelta(days=31))
    kept = Tombstone.objects.create(resource="kpis", item_id=2, plan_id=1, deleted_at=NOW - datetime.timedelta(days=29))
    assert housekeeping_run(now=NOW)["tombstones"] == 1
    assert list(Tombstone.objects.values_list("pk", flat=True)) == [kept.pk]


def test_stray_daily_snapshots_go_but_month_ends_and_each_plans_latest_day_stay():
    plan, other = PlanFactory(), PlanFactory()
    for day in ("2025-06-15", "2025-06-30", "2025-07-01", "2026-02-28", "2027-02-15"):
        snapshot(plan, datetime.date.fromisoformat(day))
    snapshot(other, datetime.date(2025, 6, 15))
    assert housekeeping_run(now=NOW)["daily_snapshots"] == 2
    kept = sorted(str(d) for d in StatusSnapshot.objects.filter(plan=plan).values_list("as_of", flat=True))
    assert kept == ["2025-06-30", "2026-02-28", "2027-02-15"]
    assert StatusSnapshot.objects.filter(plan=other).exists()
