"""Benchmark: the whole-plan recompute at national scale, as ratios to a raw SQL pass over the same rows.

    .venv/bin/python benchmarks/recompute_bench.py [--sizes 1200,6000] [--per-kpi 200]

For each size (KPIs; twice as many milestones, one goal per five KPIs, 12 focus areas, ``--per-kpi``
measurements per KPI and one logged progress per milestone) it builds a plan in a throwaway test database
(``DATABASE_URL``: PostgreSQL for the figures that matter), then runs each step in a fresh subprocess so
that its peak RSS (``ru_maxrss``) is its own:

- ``raw``: one pass of plain SQL over the rows a recompute reads (goals, KPIs, measurements, milestones,
  milestone updates) through a server-side cursor, rows discarded: the floor for time and memory;
- ``first``: the first recompute (statuses plus the 12 month-end snapshots of the plan's year);
- ``later``: a second recompute of the same day with nothing changed (it writes no row);
- ``next``: the recompute of the next day, as the nightly run does (every explanation names its day, so
  every row is rewritten).

``--repeat N`` runs ``raw``, ``later`` and ``next`` N times in turn (each ``next`` a day further), since
the machine's load moves between runs; each ratio is to the ``raw`` of its own round.

Prints seconds and peak RSS with their ratios to ``raw``, the queries, the rows written, the snapshot
table's size and the mean stored KPI explanation. Asserts nothing.
"""

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

AS_OF = "2026-01-15"
RAW_QUERIES = (
    "SELECT * FROM plans_goal WHERE plan_id = %(plan)s",
    "SELECT * FROM plans_kpi WHERE plan_id = %(plan)s",
    "SELECT m.kpi_id, m.date, m.value, m.recorded_at FROM plans_measurement m "
    "JOIN plans_kpi k ON k.id = m.kpi_id WHERE k.plan_id = %(plan)s",
    "SELECT * FROM plans_milestone WHERE plan_id = %(plan)s",
    "SELECT u.* FROM plans_milestoneupdate u JOIN plans_milestone m ON m.id = u.milestone_id "
    "WHERE m.plan_id = %(plan)s",
)


def build(kpis: int, per_kpi: int) -> int:
    from plans.models import KPI, FocusArea, Goal, Milestone, Plan, Team

    team = Team.objects.create(name="Bench team")
    plan = Plan.objects.create(
        name="Bench", slug="bench", baseline_year=2024, start_date="2025-01-01", end_date="2025-12-31"
    )
    areas = FocusArea.objects.bulk_create(FocusArea(plan=plan, code=f"FA{i}", name=f"Area {i}") for i in range(12))
    goal_count = max(kpis // 5, 1)
    goals = Goal.objects.bulk_create(
        Goal(plan=plan, focus_area=areas[i % 12], code=f"G{i}", title=f"Goal {i}", owner_team=team)
        for i in range(goal_count)
    )
    KPI.objects.bulk_create(
        (
            KPI(
                plan=plan,
                goal=goals[i % goal_count],
                owner_team=team,
                code=f"K{i}",
                name=f"KPI {i}",
                unit="%",
                baseline_value=50,
                baseline_date="2024-12-31",
                target_value=60,
                target_date="2025-12-31",
                frequency=("monthly", "quarterly", "annual")[i % 3],
            )
            for i in range(kpis)
        ),
        batch_size=2000,
    )
    Milestone.objects.bulk_create(
        (
            Milestone(
                plan=plan,
                goal=goals[i % goal_count],
                owner_team=team,
                title=f"M{i}",
                start_date="2025-01-01",
                due_date=f"2025-{1 + i % 12:02d}-28",
                percent_complete=(i * 37) % 101,
                state="in_progress",
            )
            for i in range(2 * kpis)
        ),
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        # Deterministic values: a trend per KPI plus a hash-like wobble, one figure every 1.8 days.
        cursor.execute(
            """
            INSERT INTO plans_measurement (version, created_at, updated_at, date, value, note, source, recorded_at,
                                           external_id, kpi_id)
            SELECT 1, now(), now(), date '2024-12-31' + ceil(g * 1.8)::int,
                   50 + g * 0.01 * (1 + k.id %% 7) + ((k.id * 7919 + g * 104729) %% 1000) / 500.0,
                   '', 'manual', (date '2024-12-31' + ceil(g * 1.8)::int) + time '12:00', '', k.id
            FROM plans_kpi k, generate_series(1, %s) g WHERE k.plan_id = %s
            """,
            [per_kpi, plan.pk],
        )
        cursor.execute(
            """
            INSERT INTO plans_milestoneupdate (percent_complete, state, previous_percent_complete, previous_state,
                                               note, evidence_url, created_at, updated_at, milestone_id)
            SELECT m.percent_complete, 'in_progress', 0, 'planned', '', '',
                   timestamptz '2025-03-15 12:00+00' + (m.id %% 200) * interval '1 day', now(), m.id
            FROM plans_milestone m WHERE m.plan_id = %s
            """,
            [plan.pk],
        )
        cursor.execute("ANALYZE")
    return plan.pk


def child(step: str, plan_id: int, day: str = AS_OF) -> dict:
    """One step in this (fresh) process as of ``day``: its time, queries, rows written and peak RSS."""
    from django.db import transaction

    from plans.recompute import plan_recompute

    started = time.perf_counter()
    out = {}
    if step == "raw":
        rows = 0
        with transaction.atomic(), connection.cursor() as outer:
            raw = outer.connection  # the psycopg connection, for a named (server-side) cursor
            for i, sql in enumerate(RAW_QUERIES):
                with raw.cursor(name=f"bench_raw_{i}") as cursor:
                    cursor.itersize = 2000
                    cursor.execute(sql, {"plan": plan_id})
                    for _row in cursor:
                        rows += 1
        out["rows"] = rows
    else:
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(1)  # counted, not kept: keeping the SQL and its JSON payloads would be most of the RSS
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            summary = plan_recompute(plan_id=plan_id, as_of=datetime.date.fromisoformat(day))
        out.update(
            queries=len(queries),
            items=summary.items,
            month_ends=len(summary.month_ends),
            rows_written=getattr(summary, "rows_written", None),
        )
    out["seconds"] = time.perf_counter() - started
    out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_child(step: str, plan_id: int, database: str, day: str = AS_OF) -> dict:
    env = {**os.environ, "DATABASE_URL": database}
    args = [sys.executable, __file__, "--child", step, "--plan", str(plan_id), "--day", day]
    result = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def sizes_report(plan_id: int) -> str:
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('plans_statussnapshot'), count(*) FROM plans_statussnapshot")
        size, rows = cursor.fetchone()
        cursor.execute(
            "SELECT avg(pg_column_size(explanation)), avg(length(explanation::text)) FROM plans_kpi WHERE plan_id = %s",
            [plan_id],
        )
        stored, text = cursor.fetchone()
    return (
        f"  snapshots: {rows} rows, {size / 2**20:.1f} MiB; KPI explanation: {float(text) / 1024:.1f} KB as JSON text, "
        f"{float(stored) / 1024:.1f} KB stored"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1200,6000", help="KPIs per plan, comma-separated")
    parser.add_argument("--per-kpi", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of raw, later and next")
    parser.add_argument("--child", choices=["raw", "first", "later", "next"])
    parser.add_argument("--plan", type=int)
    parser.add_argument("--day", default=AS_OF)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.plan, args.day)))
        return

    print(f"database: {connection.vendor}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = ("KPIs", 6), ("step", 6), ("seconds", 8), ("x raw", 7), ("RSS MiB", 8), ("x raw", 7), ("queries", 8)
    print(" ".join(f"{name:>{width}}" for name, width in header), f"{'written':>8}")
    for kpis in (int(n) for n in args.sizes.split(",")):
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            started = time.perf_counter()
            plan_id = build(kpis, args.per_kpi)
            built = time.perf_counter() - started
            settings = connection.settings_dict
            host = settings["HOST"] or "127.0.0.1"
            port = settings["PORT"] or 5432
            database = f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"
            if connection.vendor != "postgresql":
                database = os.environ.get("DATABASE_URL", "")
            connection.close()
            raw = run_child("raw", plan_id, database)
            day = datetime.date.fromisoformat(AS_OF)
            steps = [("raw", day), ("first", day), ("later", day), ("next", day + datetime.timedelta(days=1))]
            for round_ in range(args.repeat):
                if round_:
                    day += datetime.timedelta(days=1)
                    steps = [("raw", day), ("later", day), ("next", day + datetime.timedelta(days=1))]
                for step, as_of in steps:
                    if step == "raw" and round_:
                        raw = run_child("raw", plan_id, database)
                    figures = raw if step == "raw" else run_child(step, plan_id, database, as_of.isoformat())
                    print(
                        f"{kpis:>6} {step:>6} {figures['seconds']:>8.2f} {figures['seconds'] / raw['seconds']:>7.1f} "
                        f"{figures['rss_mib']:>8.0f} {figures['rss_mib'] / raw['rss_mib']:>7.1f} "
                        f"{figures.get('queries', len(RAW_QUERIES)):>8} {str(figures.get('rows_written', '-')):>8}"
                    )
            print(f"  built {kpis} KPIs, {2 * kpis} milestones, {kpis * args.per_kpi} measurements in {built:.0f}s")
            print(sizes_report(plan_id))
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
