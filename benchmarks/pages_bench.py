"""Benchmark: the web pages of a national-scale plan, as ratios to a trivial view measured in the same run.

    .venv/bin/python benchmarks/pages_bench.py [--scales 1 10] [--daily-days 330] [--repeat 5]

Scale 1 is 12 focus areas, 240 goals, 1,200 KPIs (12 measurements each) and 2,400 milestones owned by
12 teams; scale N multiplies the goals, KPIs and milestones by N. ``--daily-days`` adds that many days
of daily snapshots before the last month end (11 months of them is what a plan holds in November),
so a page that scans the snapshot history shows it. "cold" clears the cache before every request,
"warm" repeats the request with the cache filled. Runs in a throwaway test database on whatever
DATABASE_URL points at; the cache is whatever REDIS_URL gives (locmem without it). Prints figures,
asserts nothing.
"""

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")

import django  # noqa: E402

django.setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from testserver import allow_test_client  # noqa: E402

AS_OF = datetime.date(2025, 11, 30)


def build(scale: int, slug: str):
    """A plan of ``scale`` times the national size, its statuses computed with month-end history."""
    from plans.models import KPI, FocusArea, Goal, Measurement, Milestone, Plan, Team
    from plans.recompute import plan_recompute

    rng = random.Random(7)
    teams = Team.objects.bulk_create(Team(name=f"{slug} team {i}") for i in range(12))
    plan = Plan.objects.create(
        name=f"Bench {slug}", slug=slug, baseline_year=2024, start_date="2025-01-01", end_date="2025-12-31"
    )
    areas = FocusArea.objects.bulk_create(FocusArea(plan=plan, code=f"FA{i}", name=f"Area {i}") for i in range(12))
    goals = Goal.objects.bulk_create(
        Goal(plan=plan, focus_area=areas[i % 12], code=f"G{i}", title=f"Goal {i}", owner_team=teams[i % 12])
        for i in range(240 * scale)
    )
    kpis = KPI.objects.bulk_create(
        KPI(
            plan=plan,
            goal=goals[i % len(goals)],
            owner_team=teams[i % 12],
            code=f"K{i}",
            name=f"KPI {i}",
            unit="%",
            baseline_value=50,
            baseline_date=datetime.date(2024, 12, 31),
            target_value=60,
            target_date=datetime.date(2025, 12, 31),
            frequency="monthly",
        )
        for i in range(1200 * scale)
    )
    Milestone.objects.bulk_create(
        Milestone(
            plan=plan,
            goal=goals[i % len(goals)],
            owner_team=teams[i % 12],
            title=f"M{i}",
            due_date=datetime.date(2025, 1 + i % 12, 28),
            percent_complete=rng.randint(0, 100),
            state="in_progress",
        )
        for i in range(2400 * scale)
    )
    Measurement.objects.bulk_create(
        (
            Measurement(kpi=k, date=datetime.date(2025, month, 28), value=50 + rng.uniform(-2, 12))
            for k in kpis
            for month in range(1, 12)
        ),
        batch_size=5000,
    )
    plan_recompute(plan_id=plan.pk, as_of=AS_OF, backfill=True)
    return plan, teams


def add_daily_snapshots(plan, days: int) -> int:
    """Copy the last month end's rows onto ``days`` earlier days (what daily recomputes leave behind)."""
    if not days or connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO plans_statussnapshot (plan_id, item_type, item_id, as_of, status, score, progress, forecast)
            SELECT s.plan_id, s.item_type, s.item_id, d::date, s.status, s.score, s.progress, s.forecast
            FROM plans_statussnapshot s, generate_series(%s::date - %s, %s::date - 1, interval '1 day') d
            WHERE s.plan_id = %s AND s.as_of = %s
            ON CONFLICT DO NOTHING
            """,
            [AS_OF, days, AS_OF, plan.pk, AS_OF],
        )
        inserted = cursor.rowcount
        cursor.execute("ANALYZE plans_statussnapshot")
    return inserted


def use_own_database() -> None:
    """A test database of its own: ``--keep`` keeps it, and a pytest run on the same DATABASE_URL (which
    drops ``test_<name>``) leaves it alone."""
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_{connection.settings_dict['NAME']}_pages_bench"


def vacuum_analyze() -> None:
    """What autovacuum leaves a live database with: planner statistics and a visibility map (index-only scans).

    Measured right after a bulk build the planner would guess from empty tables and read the heap for rows an
    index holds; neither is what a running site sees.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def measure(client, path, *, repeat: int, cold: bool) -> tuple[float, int, int]:
    """Median milliseconds, queries of the last request and its HTML size."""
    times = []
    for _ in range(repeat):
        if cold:
            cache.clear()
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times), len(queries.captured_queries), len(response.content)


def pages(plan) -> dict[str, str]:
    base = f"/plans/{plan.slug}/"
    return {
        "dashboard": base,
        "dashboard as of": f"{base}?as_of=2025-06-30",
        "focus area": f"{base}focus-areas/FA1/",
        "goal": f"{base}goals/G1/",
        "kpi": f"{base}kpis/K1/",
        "my work": "/my-work/",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", type=int, nargs="+", default=[1])
    parser.add_argument("--daily-days", type=int, default=330)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the test database and reuse its plans next time")
    parser.add_argument("--only", nargs="*", help="measure these pages only")
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from plans.models import Team

    allow_test_client()
    use_own_database()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=args.keep, serialize=False)
    try:
        print(f"database: {connection.vendor}; cache: {cache.__class__.__name__}; load {os.getloadavg()}")
        results = {}
        for scale in args.scales:
            from plans.models import Plan

            plan = Plan.objects.filter(slug=f"scale-{scale}").first() if args.keep else None
            if plan is None:
                t = time.perf_counter()
                plan, teams = build(scale, f"scale-{scale}")
                daily = add_daily_snapshots(plan, args.daily_days)
                vacuum_analyze()
                print(f"scale {scale}: built in {time.perf_counter() - t:.0f} s, {daily} daily snapshot rows added")
            teams = Team.objects.filter(name__startswith=f"scale-{scale} team")
            get_user_model().objects.filter(username=f"bench-{scale}").delete()
            user = get_user_model().objects.create_user(f"bench-{scale}", password="x")
            user.groups.add(Group.objects.get_or_create(name="manager")[0])
            user.teams.set(teams)
            client = Client()
            client.force_login(user)
            trivial, _, _ = measure(client, "/healthz", repeat=args.repeat * 4, cold=False)
            print(f"  trivial view: {trivial:.2f} ms")
            for name, path in pages(plan).items():
                if args.only and name not in args.only:
                    continue
                for mode in ("cold", "warm"):
                    ms, queries, size = measure(client, path, repeat=args.repeat, cold=mode == "cold")
                    results[(scale, name, mode)] = ms
                    print(
                        f"  {name:<16} {mode}: {ms:8.1f} ms {ms / trivial:7.1f}x trivial, "
                        f"{queries:3d} queries, {size / 1024:6.1f} KB"
                    )
        if len(args.scales) > 1:
            low, high = args.scales[0], args.scales[-1]
            for (scale, name, mode), ms in results.items():
                if scale == high:
                    print(f"  scale {high} / scale {low}, {name} {mode}: {ms / results[(low, name, mode)]:.2f}x")
        print(f"load average at the end: {os.getloadavg()}")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
