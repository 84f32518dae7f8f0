"""Celery integration: a real worker on Redis, coalescing, and writes that survive a broken broker."""

import contextlib
import datetime
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun, task_prerun
from django.core.cache import cache
from django.db import connection, connections

from plans import services
from plans.models import KPI, FocusArea, Goal, Measurement, Plan
from plans.recompute import plan_recompute
from plans.tasks import plan_recompute_enqueue, plan_recompute_task, recompute_all_plans
from tests.factories import KPIFactory
from tracker.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition, timeout=30.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


@pytest.fixture
def celery_worker(requires_postgres, requires_redis, transactional_db):
    """An in-process Celery worker consuming the real Redis broker (emptied first, for isolation)."""
    cache.clear()

    def close_thread_connections(**kwargs):
        connections.close_all()  # the worker thread's own connections, or the test database cannot be dropped

    task_postrun.connect(close_thread_connections, weak=False)
    try:
        with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
            yield worker
    finally:
        task_postrun.disconnect(close_thread_connections)


@pytest.fixture
def task_runs():
    runs = []

    def count(sender=None, **kwargs):
        if getattr(sender, "name", None) == plan_recompute_task.name:
            runs.append(kwargs.get("args"))

    task_prerun.connect(count, weak=False)
    yield runs
    task_prerun.disconnect(count)


def test_measurement_written_through_the_service_changes_statuses_via_the_worker(celery_worker):
    kpi = KPIFactory(baseline_value=60, target_value=80)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 6, 30), value=85)

    assert wait_for(lambda: KPI.objects.get(pk=kpi.pk).status == "achieved")
    assert Goal.objects.get(pk=kpi.goal_id).status == "achieved"
    assert FocusArea.objects.get(pk=kpi.goal.focus_area_id).status == "achieved"
    assert wait_for(lambda: not Plan.objects.get(pk=kpi.plan_id).needs_recompute)
    assert Plan.objects.get(pk=kpi.plan_id).status == "achieved"


def test_a_burst_of_writes_coalesces_into_a_few_recomputes(celery_worker, task_runs):
    kpi = KPIFactory(baseline_value=0, target_value=1000)
    start = datetime.date(2025, 1, 1)
    for i in range(300):
        services.measurement_record(kpi=kpi, date=start + datetime.timedelta(days=i), value=i)

    assert wait_for(lambda: not Plan.objects.get(pk=kpi.plan_id).needs_recompute)
    print(f"300 writes -> {len(task_runs)} recomputes")
    assert 1 <= len(task_runs) <= 5
    assert KPI.objects.get(pk=kpi.pk).latest_value == 299


def test_in_process_mode_recomputes_after_commit(transactional_db, monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    cache.clear()
    kpi = KPIFactory(baseline_value=60, target_value=80)
    services.measurement_record(kpi=kpi, date=datetime.date(2025, 6, 30), value=90)
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


# --- a broken broker: the write commits, the plan stays marked, a later recompute catches up ---


@pytest.fixture
def frozen_redis():
    """A TCP server that accepts connections and never answers, like a frozen Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):  # accept() timed out: look at the stop flag again
                held.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def stopped_redis_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


WRITE_SCRIPT = """
import datetime, time
import django
django.setup()
from plans import services
from plans.models import KPI
started = time.monotonic()
services.measurement_record(kpi=KPI.objects.get(pk={pk}), date=datetime.date(2025, 6, 30), value=85)
print("elapsed", round(time.monotonic() - started, 2))
"""


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.parametrize("broker", ["stopped", "frozen"])
def test_write_succeeds_when_redis_is_down_and_a_later_recompute_catches_up(
    requires_postgres, transactional_db, broker, request
):
    redis_url = stopped_redis_url() if broker == "stopped" else request.getfixturevalue("frozen_redis")
    kpi = KPIFactory(baseline_value=60, target_value=80)
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": redis_url}
    env["DJANGO_SETTINGS_MODULE"] = "tracker.settings.test"
    result = subprocess.run(
        [sys.executable, "-c", WRITE_SCRIPT.format(pk=kpi.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    elapsed = float(result.stdout.split("elapsed")[-1])
    print(f"{broker} broker: the write took {elapsed}s")
    assert elapsed < 5, f"the write waited {elapsed}s for the broker"
    assert Measurement.objects.get(kpi=kpi).value == 85
    assert Plan.objects.get(pk=kpi.plan_id).needs_recompute

    plan_recompute(plan_id=kpi.plan_id)
    assert KPI.objects.get(pk=kpi.pk).status == "achieved"
    assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute


def test_enqueue_never_raises_when_the_broker_refuses(db, monkeypatch):
    import plans.tasks as tasks

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(tasks, "_broker_down_until", 0.0)
    monkeypatch.setattr(plan_recompute_task, "apply_async", refuse)
    cache.clear()
    assert plan_recompute_enqueue(plan_id=1) is False
    assert plan_recompute_enqueue(plan_id=1) is False  # backs off instead of waiting again
