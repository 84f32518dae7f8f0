"""Celery tasks (plans/tasks.py): a real worker on Redis recomputes after a write; the nightly tasks and retries."""

import datetime

from django.core.cache import cache

from plans import services
from plans.models import KPI, FocusArea, Goal, Plan
from plans.tasks import plan_recompute_task, recompute_all_plans
from tests.factories import KPIFactory
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


def test_recompute_task_retries_transient_errors():
    from django.db import OperationalError

    assert OperationalError in plan_recompute_task.autoretry_for
    assert plan_recompute_task.acks_late and plan_recompute_task.retry_jitter
    assert plan_recompute_task.soft_time_limit < plan_recompute_task.time_limit
