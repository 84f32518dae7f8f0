"""Benchmark: recompute a national-scale plan. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/recompute_bench.py [--kpis 5000] [--milestones 5000] [--per-kpi 4]

Runs in a throwaway test database on whatever DATABASE_URL points at (SQLite in memory by default).
"""

import argparse
import datetime
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def build(kpis: int, milestones: int, per_kpi: int):
    from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, Plan, Team

    rng = random.Random(7)
    team = Team.objects.create(name="Bench team")
    plan = Plan.objects.create(
        name="Bench", slug="bench", baseline_year=2024, start_date="2025-01-01", end_date="2025-12-31"
    )
    areas = FocusArea.objects.bulk_create(FocusArea(plan=plan, code=f"FA{i}", name=f"Area {i}") for i in range(10))
    goals = Goal.objects.bulk_create(
        Goal(plan=plan, focus_area=areas[i % 10], code=f"G{i}", title=f"Goal {i}", owner_team=team) for i in range(200)
    )
    base, target = datetime.date(2024, 12, 31), datetime.date(2025, 12, 31)
    kpi_rows = KPI.objects.bulk_create(
        KPI(
            plan=plan,
            goal=goals[i % 200],
            owner_team=team,
            code=f"K{i}",
            name=f"KPI {i}",
            unit="%",
            baseline_value=50,
            baseline_date=base,
            target_value=60,
            target_date=target,
            frequency="quarterly",
        )
        for i in range(kpis)
    )
    Milestone.objects.bulk_create(
        Milestone(
            plan=plan,
            goal=goals[i % 200],
            owner_team=team,
            title=f"M{i}",
            due_date=datetime.date(2025, 1 + i % 12, 28),
            percent_complete=rng.randint(0, 100),
            state="in_progress",
        )
        for i in range(milestones)
    )
    Measurement.objects.bulk_create(
        Measurement(kpi=k, date=datetime.date(2025, 3 * q, 28), value=50 + rng.uniform(-2, 12))
        for k in kpi_rows
        for q in range(1, per_kpi + 1)
    )
    return plan


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kpis", type=int, default=5000)
    parser.add_argument("--milestones", type=int, default=5000)
    parser.add_argument("--per-kpi", type=int, default=4)
    args = parser.parse_args()

    from plans.recompute import plan_recompute

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        t = time.perf_counter()
        plan = build(args.kpis, args.milestones, args.per_kpi)
        print(
            f"database: {connection.vendor}; built {args.kpis} KPIs, {args.milestones} milestones, "
            f"{args.kpis * args.per_kpi} measurements in {time.perf_counter() - t:.1f}s"
        )
        for label, as_of in (
            ("first recompute (+12 month-end snapshots)", datetime.date(2026, 1, 15)),
            ("second recompute (no back-dated data)", datetime.date(2026, 1, 15)),
        ):
            t = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                summary = plan_recompute(plan_id=plan.pk, as_of=as_of)
            elapsed = time.perf_counter() - t
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{label}: {elapsed:.2f}s, {len(queries.captured_queries)} queries, "
                f"{summary.items} items, {len(summary.month_ends)} month ends, peak RSS so far {peak:.0f} MiB"
            )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_total_relation_size('plans_statussnapshot'), count(*) FROM plans_statussnapshot"
                )
                size, rows = cursor.fetchone()
            print(f"status snapshots: {rows} rows, {size / 2**20:.0f} MiB on disk")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
