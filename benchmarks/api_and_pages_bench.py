"""Benchmark: the API's bulk upsert of 10,000 measurements and the dashboard pages of a large plan.

    .venv/bin/python benchmarks/api_and_pages_bench.py [--kpis 2500] [--milestones 2500] [--rows 10000]

Prints figures; asserts nothing. Runs in a throwaway test database on whatever DATABASE_URL points at.
"""

import argparse
import datetime
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recompute_bench  # noqa: E402  (sets up Django)
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def timed(label, call):
    with CaptureQueriesContext(connection) as queries:
        t = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - t
    print(f"{label}: {elapsed * 1000:.0f} ms, {len(queries.captured_queries)} queries")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kpis", type=int, default=2500)
    parser.add_argument("--milestones", type=int, default=2500)
    parser.add_argument("--rows", type=int, default=10000)
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test.utils import setup_test_environment

    from plans.models import KPI
    from plans.recompute import plan_recompute
    from plans.services import api_token_create

    setup_test_environment()  # allows the test client's host, as in the test suite
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        plan = recompute_bench.build(args.kpis, args.milestones, 4)
        plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 10, 15), backfill=True)
        print(f"database: {connection.vendor}; plan with {args.kpis} KPIs and {args.milestones} milestones")

        _, key = api_token_create(name="bench", scope="write")
        api = Client(HTTP_AUTHORIZATION=f"Token {key}")
        kpi_ids = list(KPI.objects.filter(plan=plan).values_list("id", flat=True))
        rows = [
            {
                "kpi": kpi_ids[i % len(kpi_ids)],
                "date": str(datetime.date(2025, 1, 1) + datetime.timedelta(days=i // len(kpi_ids))),
                "value": 50 + i % 7,
            }
            for i in range(args.rows)
        ]
        body = json.dumps({"measurements": rows})
        for label in ("bulk upsert, first call", "bulk upsert, replay (unchanged)"):
            response = timed(
                f"{label} of {args.rows} rows",
                lambda: api.post("/api/v1/measurements/bulk/", body, content_type="application/json"),
            )
            print("   ->", response.status_code, response.content[:80].decode())
        timed(
            "recompute after the bulk write", lambda: plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 10, 15))
        )
        timed("GET /api/v1/kpis/ (first page of 100)", lambda: api.get("/api/v1/kpis/"))

        user = get_user_model().objects.create_user("bench-manager", password="x")
        user.groups.add(Group.objects.get_or_create(name="manager")[0])
        web = Client()
        web.force_login(user)
        for path in (
            f"/plans/{plan.slug}/",
            f"/plans/{plan.slug}/?as_of=2025-06-30",
            f"/plans/{plan.slug}/goals/G1/",
            f"/plans/{plan.slug}/kpis/K1/",
            f"/plans/{plan.slug}/export/kpis.xlsx",
        ):
            response = timed(f"GET {path}", lambda path=path: web.get(path))
            assert response.status_code == 200, (path, response.status_code)
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
