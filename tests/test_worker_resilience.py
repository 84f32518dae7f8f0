"""The worker through broker outages: real PostgreSQL, a Redis of the test's own that it stops and starts, and
the worker (and beat) run as docker-compose.yml runs them, in subprocesses."""

import datetime
import sys
import time

import pytest
from django.db.models import F

from plans.models import KPI, Plan
from plans.recompute_queue import RECOMPUTE_TASK
from plans.tasks import CATCH_UP_AFTER
from tests.factories import KPIFactory, MeasurementFactory
from tests.test_compose import ROOT
from tests.worker import Process, wait_for
from tracker.celery import app as celery_app

pytest_plugins = ["tests.worker"]
pytestmark = [pytest.mark.redis, pytest.mark.postgres]

# Generous for a loaded machine; the worker backs off 2, 4, 6 ... s between attempts.
DEADLINE = 60
# The retry count the worker logs once it has waited longer than the three retries (2 + 4 + 6 s) after
# which it used to exit.
PAST_THE_OLD_LIMIT = "(4/"
# Not a wait for a condition but part of the scenario: a worker stopped within a second of its start
# does not show the Gossip failure (its first heartbeats have not gone round yet); one up for a few does.
UPTIME_BEFORE_OUTAGE = 8


def achievable_kpi() -> KPI:
    """A KPI whose stored status is stale: a recompute of its plan makes it achieved."""
    kpi = KPIFactory(baseline_value=60, target_value=80)
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 6, 30), value=90)
    return kpi


def recompute_send(redis_url: str, plan_id: int) -> None:
    """Publish a recompute straight to the test's Redis, which the worker consumes."""
    with celery_app.connection_for_write(redis_url) as connection:
        celery_app.send_task(RECOMPUTE_TASK, args=[plan_id], connection=connection)


def achieved(kpi: KPI):
    return lambda: KPI.objects.get(pk=kpi.pk).status == "achieved"


def test_worker_survives_a_redis_restart_and_then_recomputes(redis_server, compose_worker):
    redis_server.start()
    worker = compose_worker()
    before = achievable_kpi()
    recompute_send(redis_server.url, before.plan_id)
    assert wait_for(achieved(before), timeout=DEADLINE), worker.output()
    time.sleep(UPTIME_BEFORE_OUTAGE)

    redis_server.stop()
    assert wait_for(lambda: PAST_THE_OLD_LIMIT in worker.output() or not worker.alive, timeout=DEADLINE)
    assert worker.alive, worker.output()
    redis_server.start()

    after = achievable_kpi()
    recompute_send(redis_server.url, after.plan_id)
    assert wait_for(achieved(after), timeout=DEADLINE), worker.output()
    assert worker.alive
    # Gossip's restart used to fail on the dead connection (kombu#582); the compose command turns it off.
    assert "AttributeError" not in worker.output()


def test_worker_started_while_redis_is_down_connects_when_it_comes_up(redis_server, compose_worker):
    worker = compose_worker()
    assert wait_for(lambda: PAST_THE_OLD_LIMIT in worker.output() or not worker.alive, timeout=DEADLINE)
    assert worker.alive, worker.output()

    redis_server.start()
    kpi = achievable_kpi()
    recompute_send(redis_server.url, kpi.plan_id)
    assert wait_for(achieved(kpi), timeout=DEADLINE), worker.output()


# Beat as compose runs it, with the catch-up every 2 s instead of every minute, so the test need not wait one.
BEAT = (
    "import sys; from tracker.celery import app; "
    "app.conf.beat_schedule['recompute-stale-plans']['schedule'] = 2.0; "
    "app.start(['beat', '--loglevel=INFO', '--schedule=' + sys.argv[1]])"
)


def beat_start(env: dict, tmp_path) -> Process:
    return Process([sys.executable, "-c", BEAT, str(tmp_path / "beat-schedule")], env, tmp_path / "beat.log", cwd=ROOT)


# A write through the service, in its own process pointed at the (stopped) test Redis.
WRITE = (
    "import datetime, sys, django; django.setup(); from plans import services; from plans.models import KPI; "
    "services.measurement_record(kpi=KPI.objects.get(pk=int(sys.argv[1])), date=datetime.date(2025, 6, 30), value=95, "
    "note='Confirmed by the bureau')"
)


def test_write_committed_during_an_outage_is_recomputed_by_the_catch_up_without_a_later_write(
    redis_server, compose_worker, worker_env, tmp_path
):
    redis_server.start()
    worker = compose_worker()
    beat = beat_start(worker_env, tmp_path)
    try:
        kpi = KPIFactory(baseline_value=60, target_value=80)
        assert wait_for(lambda: "ready." in worker.output(), timeout=DEADLINE), worker.output()
        redis_server.stop()

        write = Process([sys.executable, "-c", WRITE, str(kpi.pk)], worker_env, tmp_path / "write.log", cwd=ROOT)
        assert write.popen.wait(timeout=DEADLINE) == 0, write.output()
        assert "stays marked" in write.output()  # the enqueue failed and the write still committed
        assert Plan.objects.get(pk=kpi.plan_id).needs_recompute
        # The minute the catch-up leaves a write's own enqueue, passed without waiting it out.
        Plan.objects.filter(pk=kpi.plan_id).update(marked_at=F("marked_at") - CATCH_UP_AFTER)

        redis_server.start()
        assert wait_for(achieved(kpi), timeout=DEADLINE), worker.output() + beat.output()
        assert not Plan.objects.get(pk=kpi.plan_id).needs_recompute
        assert beat.alive and worker.alive
    finally:
        beat.stop()
