"""Today's snapshot copied from the item rows by the database (plans.snapshot_copy)."""

import datetime

import pytest
from django.db import connection

from plans.choices import ItemType, Status
from plans.models import KPI, StatusSnapshot
from plans.recompute import plan_recompute
from plans.snapshot_copy import today_snapshot_copy
from tests.factories import KPIFactory, MeasurementFactory

DAY = datetime.date(2025, 6, 10)  # not a month end: the snapshot keeps no explanation
MONTH_END = datetime.date(2025, 6, 30)


def snapshot_of(kpi, day=DAY) -> StatusSnapshot:
    return StatusSnapshot.objects.get(item_type=ItemType.KPI, item_id=kpi.pk, as_of=day)


def row_version(snapshot) -> str:
    """PostgreSQL's row version (a rewritten row gets a new one); SQLite has none to read."""
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT xmin::text FROM plans_statussnapshot WHERE id = %s", [snapshot.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def kpis():
    first = KPIFactory()
    second = KPIFactory(goal=first.goal)
    for kpi in (first, second):
        MeasurementFactory(kpi=kpi, date=datetime.date(2025, 3, 31), value=kpi.baseline_value + 1)
    plan_recompute(plan_id=first.plan.pk)
    return [KPI.objects.get(pk=first.pk), KPI.objects.get(pk=second.pk)]


@pytest.mark.django_db
def test_missing_rows_are_inserted_differing_ones_updated_and_equal_ones_left(kpis):
    first, second = kpis
    KPI.objects.filter(pk=first.pk).update(status=Status.OFF_TRACK, score=-1.5, progress=0.25, forecast_value=7.0)
    today_snapshot_copy(first.plan_id, DAY, [(ItemType.KPI, first.pk), (ItemType.KPI, second.pk)])
    left = snapshot_of(second)
    version = row_version(left)

    today_snapshot_copy(first.plan_id, DAY, [(ItemType.KPI, first.pk), (ItemType.KPI, second.pk)])

    copied = snapshot_of(first)
    assert (copied.plan_id, copied.status, copied.score, copied.progress, copied.forecast, copied.explanation) == (
        first.plan_id,
        Status.OFF_TRACK,
        -1.5,
        0.25,
        7.0,
        None,
    )
    second.refresh_from_db()
    assert (left.status, left.score, left.progress, left.forecast) == (
        second.status,
        second.score,
        second.progress,
        second.forecast_value,
    )
    assert row_version(snapshot_of(second)) == version  # equal: not rewritten

    KPI.objects.filter(pk=second.pk).update(score=None)
    today_snapshot_copy(first.plan_id, DAY, [(ItemType.KPI, second.pk)])
    assert snapshot_of(second).score is None  # NULL against a number differs


@pytest.mark.django_db
def test_a_month_end_snapshot_keeps_the_rows_explanation_and_parents_have_no_forecast(kpis):
    first, _ = kpis
    plan, goal = first.plan, first.goal
    keys = [(ItemType.KPI, first.pk), (ItemType.GOAL, goal.pk), (ItemType.PLAN, plan.pk)]
    today_snapshot_copy(plan.pk, MONTH_END, keys)
    assert snapshot_of(first, MONTH_END).explanation == first.explanation
    goal.refresh_from_db()
    parent = StatusSnapshot.objects.get(item_type=ItemType.GOAL, item_id=goal.pk, as_of=MONTH_END)
    assert (parent.status, parent.score, parent.forecast, parent.explanation) == (
        goal.status,
        goal.score,
        None,
        goal.explanation,
    )
    assert StatusSnapshot.objects.filter(item_type=ItemType.PLAN, item_id=plan.pk, as_of=MONTH_END).exists()


@pytest.mark.django_db
def test_an_item_of_another_plan_is_not_copied(kpis):
    first, _ = kpis
    other = KPIFactory()
    today_snapshot_copy(first.plan_id, DAY, [(ItemType.KPI, other.pk)])
    assert not StatusSnapshot.objects.filter(item_type=ItemType.KPI, item_id=other.pk, as_of=DAY).exists()
