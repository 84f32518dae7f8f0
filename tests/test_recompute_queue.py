"""The recompute queue (plans/recompute_queue.py): coalescing, and writes that survive a broken broker."""

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
from django.core.cache import cache

from plans import recompute_queue, services
from plans.models import KPI, Measurement, Plan
from plans.recompute import plan_recompute
from plans.recompute_queue import COALESCE_SECONDS, PENDING_KEY, plan_recompute_enqueue
from plans.tasks import plan_recompute_task
from tests.factories import KPIFactory
from tests.worker import database_url, wait_for

pytest_plugins = ["tests.worker"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def broker_up():
    """The broker breaker starts closed and is left closed, whatever the test trips."""
    recompute_queue.broker_breaker.reset()
    yield
    recompute_queue.broker_breaker.reset()


# --- coalescing: a burst of writes asks for a few recomputes, not one each ---


def test_a_burst_of_writes_coalesces_into_a_few_recomputes(celery_worker, task_runs):
    kpi = KPIFactory(baseline_value=0, target_value=1000)
    start = datetime.date(2025, 1, 1)
    began = time.monotonic()
    for i in range(300):
        services.measurement_record(kpi=kpi, date=start + datetime.timedelta(days=i), value=i)
    writing = time.monotonic() - began

    assert wait_for(lambda: not Plan.objects.get(pk=kpi.plan_id).needs_recompute)
    print(f"300 writes in {writing:.1f} s -> {len(task_runs)} recomputes")
    # At most one recompute starts per coalescing window while the writes go on, plus the one that
    # catches the last of them: a bound by the burst's duration, so a loaded machine cannot fail it.
    assert 1 <= len(task_runs) <= writing / COALESCE_SECONDS + 2
    assert KPI.objects.get(pk=kpi.pk).latest_value == 299


def test_one_recompute_is_enqueued_per_plan_per_transaction(db, django_capture_on_commit_callbacks):
    kpi = KPIFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        from django.db import transaction

        with transaction.atomic():
            for day in range(1, 20):
                services.measurement_record(kpi=kpi, date=datetime.date(2025, 1, day), value=60 + day)
    assert len(callbacks) == 1


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


def test_enqueue_never_raises_when_the_broker_refuses(db, monkeypatch, broker_up):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(plan_recompute_task, "apply_async", refuse)
    cache.clear()
    assert plan_recompute_enqueue(plan_id=1) is False
    assert cache.get(PENDING_KEY.format(plan_id=1)) is None  # the next write may enqueue again
    assert plan_recompute_enqueue(plan_id=1) is False
    assert len(attempts) == 1  # the second enqueue backs off instead of waiting for the broker again
