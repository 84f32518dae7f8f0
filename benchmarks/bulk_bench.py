"""The 10,000-row bulk upsert over HTTP against a raw COPY of the same rows, and how soon its statuses are fresh.

    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python benchmarks/bulk_bench.py [--runs 3]

Runs on DATABASE_URL's database itself and needs the generated plan there (``manage.py generate_scale_data
--scale 1``); each run writes 10,000 new rows (continuing each KPI's last value, one day later per round of
KPIs) and leaves them. Prints, with the load average: the raw COPY (rolled back, median of five), each HTTP
upsert and its ratio (target >= 0.25), the replay of the same payload (all unchanged), and the seconds from the
response until a real Celery worker (started here, on REDIS_URL) has the plan's statuses caught up (target < 2 s;
also as a multiple of the raw COPY, which tells how loaded the machine was).
PostgreSQL only (COPY). Nothing here asserts.
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
SLUG = "national-scale"
ROWS = 10_000

import django  # noqa: E402

django.setup()

from django.test.utils import setup_test_environment  # noqa: E402

setup_test_environment()  # the test Client's host is allowed

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from plans.models import Measurement, Plan  # noqa: E402
from plans.services import api_token_create  # noqa: E402

# Imported once the settings are read: scale_bench leaves the broker out of its own process (not of this one).
BROKER_URL = os.environ.get("REDIS_URL", "")
from benchmarks.scale_bench import bulk_rows, fresh_seconds, raw_copy_seconds  # noqa: E402


def payload(plan) -> list[dict]:
    """``ROWS`` rows dated after the plan's latest measurement, each KPI's last value again (no jumps)."""
    latest = Measurement.objects.filter(kpi__plan=plan).order_by("-date").values_list("date", flat=True).first()
    return bulk_rows(plan, ROWS, first=latest + datetime.timedelta(days=1))


def worker(log: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "celery"), "-A", "tracker", "worker", "--pool", "solo"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
    with log.open("ab") as out:
        env = {**os.environ, "REDIS_URL": BROKER_URL}
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


# What autovacuum keeps up in production (docker-compose's PostgreSQL runs it). A server without it (the shared
# test server here runs with autovacuum off) has no statistics and no visibility map after generate_scale_data's
# COPY: the series reads then sort 240,000 rows on disk instead of reading the series index (3x slower).
VACUUMED = ("plans_measurement", "plans_measurementrevision", "plans_kpi", "plans_statussnapshot")


def vacuum() -> None:
    with connection.cursor() as cursor:
        for table in VACUUMED:
            cursor.execute(f"VACUUM ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--no-vacuum", action="store_true", help="measure the tables as they are (no VACUUM ANALYZE first)"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql" or not BROKER_URL:
        sys.exit("Needs DATABASE_URL on PostgreSQL and REDIS_URL (the worker's broker).")
    plan = Plan.objects.filter(slug=SLUG).first()
    if plan is None:
        sys.exit(f"No plan {SLUG!r}: run manage.py generate_scale_data --scale 1 first.")
    if not args.no_vacuum:
        vacuum()
    _, key = api_token_create(name=f"bulk-bench-{time.monotonic_ns()}", scope="write")
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    log = Path(os.environ.get("TMPDIR", "/tmp")) / "bulk_bench_worker.log"
    process = worker(log)
    try:
        time.sleep(4)  # connected and consuming
        fresh_seconds(plan.pk, time.perf_counter())  # statuses current before the first run
        api.get("/api/v1/plans/")  # the URL configuration and the API imported, as in a running server
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        for run in range(args.runs):
            rows = payload(plan)
            copy = statistics.median(raw_copy_seconds(rows) for _ in range(5))
            body = json.dumps({"measurements": rows})
            t = time.perf_counter()
            response = api.post("/api/v1/measurements/bulk/", body, content_type="application/json")
            answered = time.perf_counter()
            if response.status_code != 200:
                sys.exit(f"bulk {response.status_code}: {response.content[:200]!r}")
            fresh = fresh_seconds(plan.pk, answered, timeout=120)
            t2 = time.perf_counter()
            replay = api.post("/api/v1/measurements/bulk/", body, content_type="application/json")
            replayed = time.perf_counter() - t2
            fresh_text = (
                f"{fresh:.2f} s ({fresh / copy:.1f}x the raw COPY)" if fresh is not None else "not within 120 s"
            )
            print(
                f"run {run + 1}: raw COPY {copy * 1000:.0f} ms, HTTP upsert {(answered - t) * 1000:.0f} ms, "
                f"ratio {copy / (answered - t):.3f} (target >= 0.25); replay {replayed * 1000:.0f} ms "
                f"{replay.json()}; statuses fresh {fresh_text} after the response (target < 2 s); "
                f"load {os.getloadavg()[0]:.2f}"
            )
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
