"""Celery tasks (plans/tasks.py): a real worker on Redis recomputes after a write; the nightly tasks and retries."""

import datetime

from django.core.cache import cache
from django.db.models.functions import Now

from plans import services
from plans.models import KPI, FocusArea, Goal, Plan
from plans.selectors import plan_ids_left_stale
from plans.tasks import CATCH_UP_AFTER, plan_recompute_task, recompute_all_plans, recompute_stale_plans
from tests.factories import KPIFactory, PlanFactory
from tests.worker import wait_for
from tracker.celery import app as celery_app

pytest_plugins = ["tests.worker"]


def test_measurement_written_through_the_service_changes_statuses_via_the_worker(celery_worker):
    kpi = KPIFactory(baseline_value=60, target_value=80)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 6, 30), value=85)

    assert wait_for(lambda: KPI.objects.get(pk=kpi.pk).status == "achieved")
    assert Goal.objects.get(pk=kpi.goal_id).status == "achieved"
    assert FocusArea.objects.get(pk=kpi.goal.focus_area_id).status == "achieved"
    assert wait_for(lambda: not Plan.objects.get(pk=kpi.plan_id).needs_recompute)
    assert Plan.objects.get(pk=kpi.plan_id).status == "achieved"


def test_in_process_mode_recomputes_after_commit(transactional_db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    cache.clear()
    kpi = KPIFactory(baseline_value=60, target_value=80)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 6, 30), value=84)
    kpi.refresh_from_db()
    assert kpi.status == "achieved"
    assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute


def test_nightly_task_queues_every_plan(db, monkeypatch):
    queued = []
    monkeypatch.setattr(plan_recompute_task, "delay", lambda plan_id: queued.append(plan_id))
    plans = [KPIFactory().plan_id, KPIFactory().plan_id]
    assert recompute_all_plans() == 2
    assert sorted(queued) == sorted(plans)


def test_nightly_schedule_is_registered():
    entry = celery_app.conf.beat_schedule["recompute-all-plans-nightly"]
    assert entry["task"] == "plans.tasks.recompute_all_plans"


def test_recompute_task_is_acknowledged_late_and_soft_limited_before_its_hard_limit():
    # Its failures are retried by the catch-up with the plan's backoff (tests/test_recompute_failures.py).
    assert plan_recompute_task.acks_late
    assert plan_recompute_task.soft_time_limit < plan_recompute_task.time_limit


def test_the_queue_publishes_the_recompute_task_by_its_registered_name():
    from celery import current_app

    from plans.recompute_queue import RECOMPUTE_TASK

    assert plan_recompute_task.name == RECOMPUTE_TASK
    assert current_app.tasks[RECOMPUTE_TASK] == plan_recompute_task  # shared_task returns a proxy of it


def marked_plan(ago: datetime.timedelta) -> Plan:
    """A plan whose last write committed ``ago`` and was never recomputed (its enqueue was lost)."""
    plan = PlanFactory()
    Plan.objects.filter(pk=plan.pk).update(data_revision=3, computed_revision=2, marked_at=Now() - ago)
    return plan


def test_a_write_stamps_when_it_marked_the_plan(db):
    kpi = KPIFactory()
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 6, 30), value=70)
    plan = Plan.objects.get(pk=kpi.plan_id)
    assert plan.needs_recompute
    assert plan.marked_at is not None


def test_stale_plans_are_those_still_marked_a_while_after_their_last_write(db):
    left = marked_plan(ago=datetime.timedelta(minutes=2))
    marked_plan(ago=datetime.timedelta(seconds=10))  # its own enqueue is still on its way
    PlanFactory()  # recomputed
    assert plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER) == [left.pk]


def test_plans_marked_before_the_stamp_existed_count_as_stale(db):
    plan = PlanFactory()
    Plan.objects.filter(pk=plan.pk).update(data_revision=1, marked_at=None)
    assert plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER) == [plan.pk]


def test_catch_up_recomputes_exactly_the_plans_left_stale(transactional_db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    cache.clear()
    left = marked_plan(ago=datetime.timedelta(minutes=5))
    fresh = marked_plan(ago=datetime.timedelta(seconds=5))
    assert recompute_stale_plans() == 1
    assert not Plan.objects.get(pk=left.pk).needs_recompute
    assert Plan.objects.get(pk=fresh.pk).needs_recompute


def test_catch_up_costs_one_query_when_nothing_is_stale(db, django_assert_num_queries):
    PlanFactory()
    with django_assert_num_queries(1):
        assert recompute_stale_plans() == 0


def test_catch_up_is_scheduled_every_minute_and_drops_runs_nobody_consumed():
    entry = celery_app.conf.beat_schedule["recompute-stale-plans"]
    assert entry["task"] == recompute_stale_plans.name
    assert entry["schedule"] == CATCH_UP_AFTER.total_seconds()
    assert entry["options"]["expires"] < entry["schedule"]
