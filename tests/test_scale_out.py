"""Scale-out: two real Celery workers and several writer processes (threads in each) on one PostgreSQL and a
Redis of the test's own. No recompute is lost (every plan ends computed at its data revision, and its stored
statuses are what a fresh whole-plan recompute gives) and none is duplicated: the plan's advisory lock
serialises every whole-plan and incremental run, and no whole-plan run repeats revisions already computed
(a write's queued recompute that finds them covered skips, ``plan_recompute(only_if_behind=True)``).

Each process records every run under the lock (spy below): when it got the lock, the revisions it found,
and when it was done, still inside the transaction that holds the lock, so a recorded interval lies within
the lock's hold and two recorded intervals of one plan overlap only if the lock failed.
"""

import datetime
import json
import sys
import time

import pytest

from plans.models import KPI, FocusArea, Measurement, Plan
from plans.recompute import plan_recompute
from plans.recompute_queue import COALESCE_SECONDS, RECOMPUTE_TASK
from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, MilestoneFactory, PlanFactory
from tests.test_compose import ROOT
from tests.worker import Process, wait_for
from tracker.celery import app as celery_app

pytest_plugins = ["tests.worker"]
pytestmark = [pytest.mark.redis, pytest.mark.postgres]

DEADLINE = 120
# Records each run under the plan's lock to the log named by argv[1]: wraps the lock, the whole-plan
# recompute (nested in the guarded transaction) and the incremental update (inside its own transaction).
SPY = """
import json, os, sys, time
import django
django.setup()
from django.db import transaction
from plans import incremental, recompute, recompute_failures
from plans.models import Plan

LOG, held = sys.argv[1], {}

def record(kind, plan_id, skipped):
    acquired, computed, data = held.pop(plan_id)
    line = dict(kind=kind, plan=plan_id, acquired=acquired, released=time.time(), computed=computed, data=data,
                skipped=skipped, pid=os.getpid())
    with open(LOG, "a") as log:
        log.write(json.dumps(line) + "\\n")

def lock(plan_id, real=recompute._lock):
    real(plan_id)
    revisions = Plan.objects.filter(pk=plan_id).values_list("computed_revision", "data_revision").first()
    held[plan_id] = (time.time(), *revisions)

def whole(*, plan_id, real=recompute_failures.plan_recompute, **kwargs):
    summary = real(plan_id=plan_id, **kwargs)  # in plan_recompute_guarded's transaction: the lock is held
    record("whole", plan_id, bool(getattr(summary, "skipped", False)))
    return summary

@transaction.atomic
def partial(*, plan_id, real=incremental.plan_update_incremental.__wrapped__, **kwargs):
    in_sync = real(plan_id=plan_id, **kwargs)
    record("incremental", plan_id, False)
    return in_sync

recompute._lock = incremental._lock = lock
recompute_failures.plan_recompute = whole
incremental.plan_update_incremental = partial
"""
WORKER = SPY + (
    "from tracker.celery import app\n"
    "app.start(['worker', '--loglevel=INFO', '--concurrency=1', '-n', sys.argv[2] + '@%h',\n"
    "           '--without-gossip', '--without-mingle', '--without-heartbeat'])\n"
)
# Writes through the services from several threads: argv[2] is JSON [[kind, id, day offset], ...], where
# kind "kpi" records a measurement (the incremental path) and "area" saves a focus area as the admin does
# (a structural edit: the whole-plan recompute is enqueued for the workers).
WRITER = (
    SPY
    + """
import datetime, threading
from django.db import connection
from plans import services
from plans.models import KPI, FocusArea

failed = []

def write(jobs):
    try:
        write_all(jobs)
    except BaseException:
        failed.append(True)  # a write the service refused or that failed: the process exits 1
        raise
    finally:
        connection.close()

def write_all(jobs):
    for kind, item_id, offset in jobs:
        if kind == "area":
            services.structure_save(item=FocusArea.objects.get(pk=item_id), is_new=False)
            continue
        services.measurement_record(kpi=KPI.objects.get(pk=item_id), date=datetime.date(2025, 1, 1)
                                    + datetime.timedelta(days=offset), value=60 + offset % 40, note="load test")

jobs = json.loads(sys.argv[2])
threads = [threading.Thread(target=write, args=(jobs[i::3],)) for i in range(3)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
sys.exit(1 if failed else 0)
"""
)
WRITERS = 3
WRITES_PER_WRITER = 30
STRUCTURAL_EVERY = 5  # one write in five per plan and writer is a focus-area save


def plan_build(kpis: int) -> Plan:
    plan = PlanFactory()
    for index in range(2):
        goal = GoalFactory(focus_area=FocusAreaFactory(plan=plan, code=f"FA{index}"))
        MilestoneFactory(goal=goal, due_date=datetime.date(2025, 9, 30))
        for _ in range(kpis // 2):
            KPIFactory(goal=goal)
    plan_recompute(plan_id=plan.pk)
    return plan


def jobs_for(writer: int, plan: Plan) -> list[list]:
    """One writer's writes to a plan: measurements on distinct days (every writer writes to the busy plan at
    once), every ``STRUCTURAL_EVERY``-th a focus-area save."""
    kpi_ids = list(KPI.objects.filter(plan=plan).order_by("id").values_list("id", flat=True))
    area_id = FocusArea.objects.filter(plan=plan).order_by("id").values_list("id", flat=True).first()
    return [
        ["area", area_id, 0]
        if n % STRUCTURAL_EVERY == STRUCTURAL_EVERY - 1
        else ["kpi", kpi_ids[(writer + n) % len(kpi_ids)], writer * WRITES_PER_WRITER + n]
        for n in range(WRITES_PER_WRITER)
    ]


def write_recompute_send(redis_url: str, plan_id: int) -> None:
    """Publish the recompute a write enqueues (``plan_recompute_enqueue``) straight to the test's Redis."""
    with celery_app.connection_for_write(redis_url) as connection:
        celery_app.send_task(RECOMPUTE_TASK, args=[plan_id], kwargs={"only_if_behind": True}, connection=connection)


def computed_values(plan: Plan) -> dict:
    rows = {("plan", plan.pk): Plan.objects.filter(pk=plan.pk).values("status", "score", "progress").get()}
    for kpi in KPI.objects.filter(plan=plan).values("id", "status", "score", "progress", "latest_value"):
        rows["kpi", kpi.pop("id")] = kpi
    return rows


def runs_read(tmp_path) -> list[dict]:
    return [json.loads(line) for log in tmp_path.glob("runs-*.jsonl") for line in log.read_text().splitlines()]


def whole_runs(tmp_path) -> int:
    return len([run for run in runs_read(tmp_path) if run["kind"] == "whole"])


def whole_runs_settled(tmp_path, quiet: float = COALESCE_SECONDS + 3) -> int:
    """The number of whole-plan runs once none has started for ``quiet`` seconds."""
    count, since = whole_runs(tmp_path), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.5)
        if (now := whole_runs(tmp_path)) != count:
            count, since = now, time.monotonic()
    return count


def test_concurrent_writes_with_two_workers_lose_and_duplicate_no_recompute(redis_server, worker_env, tmp_path):
    redis_server.start()
    busy, others = plan_build(kpis=6), [plan_build(kpis=4) for _ in range(2)]
    plans = [busy, *others]
    workers = [
        Process(
            [sys.executable, "-c", WORKER, str(tmp_path / f"runs-worker{n}.jsonl"), f"w{n}"],
            worker_env,
            tmp_path / f"worker{n}.log",
            cwd=ROOT,
        )
        for n in (1, 2)
    ]
    writers = []
    try:
        assert wait_for(lambda: all("ready." in w.output() for w in workers), timeout=DEADLINE), workers[0].output()
        initial = {p.pk: p.data_revision for p in Plan.objects.filter(pk__in=[p.pk for p in plans])}
        expected = dict(initial)
        for n in range(WRITERS):
            # Every writer writes to the busy plan; each also to one of the others, interleaved.
            mixed = [job for pair in zip(jobs_for(n, busy), jobs_for(n, others[n % 2]), strict=True) for job in pair]
            expected[busy.pk] += WRITES_PER_WRITER
            expected[others[n % 2].pk] += WRITES_PER_WRITER
            log = tmp_path / f"runs-writer{n}.jsonl"
            command = [sys.executable, "-c", WRITER, str(log), json.dumps(mixed)]
            writers.append(Process(command, worker_env, tmp_path / f"writer{n}.log", cwd=ROOT))
        for writer in writers:
            assert writer.popen.wait(timeout=DEADLINE) == 0, writer.output()

        def in_sync():
            return all(
                p.computed_revision == p.data_revision for p in Plan.objects.filter(pk__in=[p.pk for p in plans])
            )

        assert wait_for(in_sync, timeout=DEADLINE), [w.output()[-3000:] for w in workers]
        # A write's queued recompute that reaches a worker after other runs computed its revisions (as when
        # the other worker's run read the write first) must not repeat them.
        # Tasks the writes queued may still arrive after the plans caught up (and skip): let them drain first,
        # so the count below is of the late tasks alone.
        late = whole_runs_settled(tmp_path)
        for plan in plans:
            write_recompute_send(redis_server.url, plan.pk)
        assert wait_for(lambda: whole_runs(tmp_path) >= late + len(plans), timeout=DEADLINE)
    finally:
        for process in [*writers, *workers]:
            process.stop()

    measured = WRITES_PER_WRITER - WRITES_PER_WRITER // STRUCTURAL_EVERY
    assert Measurement.objects.filter(note="load test").count() == 2 * WRITERS * measured
    for plan in plans:
        plan.refresh_from_db()
        assert plan.data_revision == expected[plan.pk]  # one revision per write
        stored = computed_values(plan)
        summary = plan_recompute(plan_id=plan.pk)
        assert summary.rows_written == 0, plan.pk  # no stored status differs from a whole-plan recompute
        assert computed_values(plan) == stored

    runs = runs_read(tmp_path)
    whole = [run for run in runs if run["kind"] == "whole"]
    assert {run["pid"] for run in whole} and len({run["pid"] for run in runs}) >= WRITERS + 1
    for plan in plans:
        mine = sorted((run for run in runs if run["plan"] == plan.pk), key=lambda run: run["acquired"])
        # Each write's incremental update ran exactly once.
        writes = (expected[plan.pk] - initial[plan.pk]) // WRITES_PER_WRITER
        assert len([run for run in mine if run["kind"] == "incremental"]) == writes * measured
        for before, after in zip(mine, mine[1:], strict=False):
            assert before["released"] <= after["acquired"], (before, after)  # the lock serialised them
    assert len([run for run in whole if run["skipped"]]) >= len(plans)
    for run in whole:
        # A whole-plan run computes only revisions not computed yet; a covered one skips.
        assert run["skipped"] or run["computed"] < run["data"], run
        assert not run["skipped"] or run["computed"] >= run["data"], run
