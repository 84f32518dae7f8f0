"""A recompute that fails (plans/recompute_failures.py): recorded on its plan, retried with backoff by the
catch-up, shown to managers and in /readyz, never failing the write that triggered it, cleared by a success.

The failures are real: a PostgreSQL trigger refuses the plan's status write, so the recompute's
transaction raises and rolls back as it would on any database error; the soft time limit is
Celery's own, in a real worker process.
"""

import datetime
import logging
import sys

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from plans.models import Measurement, Plan
from plans.recompute import plan_recompute
from plans.recompute_failures import RETRY_MAX, recompute_failure_record, retry_delay
from plans.recompute_queue import RECOMPUTE_TASK, broker_breaker
from plans.selectors import plan_ids_left_stale
from plans.tasks import CATCH_UP_AFTER, plan_recompute_task, recompute_stale_plans
from tests.factories import KPIFactory
from tests.test_compose import ROOT, compose_env
from tests.worker import Process, wait_for
from tracker.celery import app as celery_app

pytest_plugins = ["tests.worker"]

MINUTE = datetime.timedelta(minutes=1)


class RecomputeBreaker:
    """Makes one plan's recompute raise: a trigger refuses the write of its computed statuses."""

    def __init__(self):
        self.plan_ids: list[int] = []

    def break_(self, plan_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION test_recompute_refused() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'statuses of plan % refused', NEW.id USING ERRCODE = 'check_violation'; "
                "END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER test_recompute_refused_{int(plan_id)} BEFORE UPDATE ON plans_plan FOR EACH ROW "
                f"WHEN (NEW.id = {int(plan_id)} AND NEW.computed_at IS DISTINCT FROM OLD.computed_at) "
                "EXECUTE FUNCTION test_recompute_refused()"
            )
        self.plan_ids.append(plan_id)

    def fix(self, plan_id: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS test_recompute_refused_{int(plan_id)} ON plans_plan")
        self.plan_ids.remove(plan_id)


@pytest.fixture
def breaker(requires_postgres):
    """DDL outlives a transactional test's flush, so whatever the test left broken is fixed afterwards."""
    breaker = RecomputeBreaker()
    yield breaker
    for plan_id in list(breaker.plan_ids):
        breaker.fix(plan_id)


@pytest.fixture
def kpi(team):
    return KPIFactory(goal__owner_team=team)


@pytest.fixture
def broken(breaker, kpi):
    """A plan whose recompute raises; returns its KPI."""
    breaker.break_(kpi.plan_id)
    return kpi


@pytest.fixture
def eager(transactional_db, monkeypatch):
    """In-process mode (no worker), as without REDIS_URL: a write's recompute runs after its commit."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    cache.clear()
    broker_breaker.reset()
    yield
    broker_breaker.reset()


def plan_of(kpi) -> Plan:
    return Plan.objects.get(pk=kpi.plan_id)


def failure(plan: Plan) -> tuple:
    return plan.recompute_failures, plan.recompute_error, plan.recompute_retry_at - plan.recompute_failed_at


def test_a_failed_recompute_is_recorded_and_the_plan_keeps_its_marks(broken, caplog):
    Plan.objects.filter(pk=broken.plan_id).update(data_revision=4, computed_revision=3)
    with caplog.at_level(logging.ERROR, logger="plans.recompute_failures"):
        assert plan_recompute_task(broken.plan_id) is False

    plan = plan_of(broken)
    assert failure(plan) == (1, "IntegrityError", MINUTE)
    assert plan.recompute_failing_since == plan.recompute_failed_at
    assert plan.computed_at is None and plan.needs_recompute  # the failed run's writes rolled back
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and f"plan {broken.plan_id} failed" in logged[0].getMessage()
    assert "refused" in str(logged[0].exc_info[1])  # the whole error goes to the log, not to the page


def test_each_failure_in_a_row_doubles_the_wait_up_to_an_hour(broken):
    waits = []
    for _ in range(3):
        plan_recompute_task(broken.plan_id)
        waits.append(failure(plan_of(broken))[2])
    assert waits == [MINUTE, 2 * MINUTE, 4 * MINUTE]
    plan = plan_of(broken)
    assert plan.recompute_failures == 3 and plan.recompute_failing_since < plan.recompute_failed_at


def test_the_wait_caps_at_an_hour():
    assert [retry_delay(n) // MINUTE for n in (1, 2, 3, 4, 5, 6, 7, 8, 50, 10**6)] == [1, 2, 4, 8, 16, 32] + [60] * 4
    assert retry_delay(10**6) == RETRY_MAX


def test_the_next_success_clears_the_failure(breaker, broken):
    plan_recompute_task(broken.plan_id)
    plan_recompute_task(broken.plan_id)
    breaker.fix(broken.plan_id)

    assert plan_recompute_task(broken.plan_id) is True
    plan = plan_of(broken)
    assert plan.computed_at is not None and not plan.needs_recompute
    assert (plan.recompute_failures, plan.recompute_error) == (0, "")
    assert plan.recompute_failing_since is plan.recompute_failed_at is plan.recompute_retry_at is None


def test_a_failure_does_not_overwrite_a_success_that_came_after_it_started(kpi):
    started = timezone.now()
    plan_recompute(plan_id=kpi.plan_id)
    assert recompute_failure_record(plan_id=kpi.plan_id, error="IntegrityError", started=started) is None
    assert plan_of(kpi).recompute_failures == 0


def test_the_catch_up_retries_a_failing_plan_only_once_its_next_try_is_due(broken):
    Plan.objects.filter(pk=broken.plan_id).update(data_revision=2, marked_at=timezone.now() - 10 * MINUTE)
    plan_recompute_task(broken.plan_id)
    assert plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER) == []  # marked long ago, but not yet due

    Plan.objects.filter(pk=broken.plan_id).update(recompute_retry_at=F("recompute_retry_at") - MINUTE)
    assert plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER) == [broken.plan_id]


def test_the_catch_up_retries_a_failing_plan_even_when_no_write_marked_it(broken):
    plan_recompute_task(broken.plan_id)  # as the nightly run: no write pending
    assert not plan_of(broken).needs_recompute
    Plan.objects.filter(pk=broken.plan_id).update(recompute_retry_at=F("recompute_retry_at") - MINUTE)
    assert plan_ids_left_stale(for_longer_than=CATCH_UP_AFTER) == [broken.plan_id]


def test_the_catch_up_retries_once_due_and_its_success_clears_the_failure(eager, breaker, broken):
    plan_recompute_task(broken.plan_id)
    breaker.fix(broken.plan_id)
    assert recompute_stale_plans() == 0  # fixed, but its next try is a minute away

    Plan.objects.filter(pk=broken.plan_id).update(recompute_retry_at=F("recompute_retry_at") - MINUTE)
    assert recompute_stale_plans() == 1
    plan = plan_of(broken)
    assert plan.computed_at is not None and plan.recompute_failures == 0


# --- a write whose in-process recompute fails still succeeds -------------------------------------


def assert_committed_and_marked(kpi, value) -> None:
    assert Measurement.objects.get(kpi=kpi).value == value
    plan = plan_of(kpi)
    assert plan.needs_recompute and plan.recompute_failures == 1
    assert not broker_breaker.is_down()  # a failing recompute is no broker outage


def test_web_form_write_succeeds_when_its_in_process_recompute_fails(eager, broken, client, staff):
    client.force_login(staff)
    url = reverse("plans:measurement_create", kwargs={"pk": broken.pk})
    response = client.post(url, {"version": broken.version, "date": "2025-06-30", "value": "71", "note": "Q2"})
    assert response.status_code == 302
    assert_committed_and_marked(broken, 71)


def test_api_write_succeeds_when_its_in_process_recompute_fails(eager, broken, writer):
    response = writer.post("/api/v1/measurements/", {"kpi": broken.pk, "date": "2025-06-30", "value": 72})
    assert response.status_code == 201, response.json()
    assert_committed_and_marked(broken, 72)


# --- visible to managers --------------------------------------------------------------------------


def page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("url_of", [lambda plan: reverse("plans:dashboard", args=[plan.slug]), lambda _: "/"])
def test_managers_see_when_the_recompute_failed_how_often_and_the_next_try(broken, client, manager, url_of):
    plan_recompute_task(broken.plan_id)
    plan_recompute_task(broken.plan_id)
    html = page(client, manager, url_of(plan_of(broken)))
    assert "recompute-failed-banner" in html
    assert "has failed 2 times in a row" in html
    assert "IntegrityError" in html and "tried again automatically at" in html
    assert "being recomputed" not in html  # it is not: it waits for its next try


def test_staff_see_only_that_statuses_may_be_out_of_date(broken, client, staff):
    plan_recompute_task(broken.plan_id)
    html = page(client, staff, reverse("plans:dashboard", args=[plan_of(broken).slug]))
    assert "Statuses may be out of date" in html
    assert "recompute-failed-banner" not in html and "IntegrityError" not in html


def test_a_healthy_plan_shows_no_failure_banner(kpi, client, manager):
    plan_recompute(plan_id=kpi.plan_id)
    html = page(client, manager, reverse("plans:dashboard", args=[plan_of(kpi).slug]))
    assert "recompute-banner" not in html and "out of date" not in html


def test_readyz_lists_failing_plans_and_stays_ready(broken, client):
    plan_recompute_task(broken.plan_id)
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["ready"] is True
    plan = plan_of(broken)
    [entry] = response.json()["failing_recomputes"]
    assert entry["plan"] == plan.pk and entry["slug"] == plan.slug and entry["failures"] == 1
    ms = datetime.timedelta(milliseconds=1)  # the JSON encoder keeps milliseconds
    assert abs(datetime.datetime.fromisoformat(entry["since"]) - plan.recompute_failing_since) < ms
    assert abs(datetime.datetime.fromisoformat(entry["next_retry_at"]) - plan.recompute_retry_at) < ms


def test_readyz_lists_nothing_when_every_recompute_succeeds(kpi, client):
    plan_recompute(plan_id=kpi.plan_id)
    assert client.get("/readyz").json()["failing_recomputes"] == []


# --- a real worker, a real soft time limit ---------------------------------------------------------

# The worker as compose runs it (prefork, so Celery's time limits apply), with one rollup function made to
# sleep far past the 1 s soft limit the test's message carries: the recompute is interrupted mid-run.
SLOW_WORKER = (
    "import time; from plans import rollup; real = rollup.rollup_status\n"
    "def slow(**kwargs):\n    time.sleep(30); return real(**kwargs)\n"
    "rollup.rollup_status = slow\n"
    "from tracker.celery import app\n"
    "app.start(['worker', '--loglevel=INFO', '--concurrency=1', '--without-gossip', '--without-mingle',"
    " '--without-heartbeat'])"
)


@pytest.mark.redis
def test_a_recompute_past_its_soft_time_limit_in_a_real_worker_is_recorded(
    requires_postgres, transactional_db, redis_server, tmp_path
):
    redis_server.start()
    kpi = KPIFactory()
    Plan.objects.filter(pk=kpi.plan_id).update(data_revision=1)
    worker = Process([sys.executable, "-c", SLOW_WORKER], compose_env(redis_server.url), tmp_path / "w.log", cwd=ROOT)
    try:
        assert wait_for(lambda: "ready." in worker.output(), timeout=60), worker.output()
        with celery_app.connection_for_write(redis_server.url) as conn:
            celery_app.send_task(RECOMPUTE_TASK, args=[kpi.plan_id], connection=conn, soft_time_limit=1, time_limit=20)

        assert wait_for(lambda: plan_of(kpi).recompute_failures == 1, timeout=60), worker.output()
        plan = plan_of(kpi)
        assert plan.recompute_error == "SoftTimeLimitExceeded"
        assert plan.needs_recompute and plan.computed_at is None
        assert wait_for(lambda: f"Recompute of plan {kpi.plan_id} failed" in worker.output(), timeout=10)
        assert worker.alive
    finally:
        worker.stop()
