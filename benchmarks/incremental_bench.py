"""Benchmark: what one write costs before its status shows, whole-plan recompute vs incremental update.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/incremental_bench.py [--kpis 1200] [--milestones 2400]

Builds the plan of ``recompute_bench.py`` in a throwaway test database and runs without REDIS_URL, so a
whole-plan recompute runs in-process after commit as it does on a server without Redis. Each write is
timed from the service call to its commit callbacks' end (the moment its status is stored), and printed
with its query count and as a ratio to the whole-plan path measured in the same run. Asserts nothing.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
os.environ.pop("REDIS_URL", None)

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from recompute_bench import build  # noqa: E402  (it sets Django up)

REPEATS = 5


def timed(write) -> tuple[float, int]:
    """Median seconds and the query count of ``write()`` (a committed service call with its callbacks)."""
    times, count = [], 0
    for attempt in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            write(attempt)
            times.append(time.perf_counter() - t)
        count = len(queries.captured_queries)
    return statistics.median(times), count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kpis", type=int, default=1200)
    parser.add_argument("--milestones", type=int, default=2400)
    parser.add_argument("--per-kpi", type=int, default=4)
    args = parser.parse_args()

    from plans import services
    from plans.incremental import Changes
    from plans.models import KPI, Milestone
    from plans.recompute import plan_recompute

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        plan = build(args.kpis, args.milestones, args.per_kpi)
        plan_recompute(plan_id=plan.pk)
        kpi = KPI.objects.filter(plan=plan).order_by("pk").first()
        milestone = Milestone.objects.filter(plan=plan).order_by("pk").first()
        print(
            f"database: {connection.vendor}; {args.kpis} KPIs, {args.milestones} milestones, {args.per_kpi} values each"
        )

        def measure(changes):
            def write(attempt):
                value = 55 + attempt
                if changes is None:
                    services.measurement_record(kpi=kpi, date=datetime.date(2025, 12, 30), value=value, note="bench")
                else:
                    # The same write marked as a structural change: the whole-plan path every write took before.
                    from django.db import transaction

                    with transaction.atomic():
                        services.measurement_record(kpi=kpi, date=datetime.date(2025, 12, 30), value=value, note="b")
                        services.plan_mark_changed(plan_id=plan.pk, changes=changes)

            return write

        def progress(attempt):
            percent = 10 + attempt
            services.milestone_progress_record(
                milestone=milestone, percent_complete=percent, state="in_progress", note="bench"
            )

        def back_dated(attempt):
            services.measurement_record(kpi=kpi, date=datetime.date(2025, 2, 1 + attempt), value=52, note="bench")

        whole, whole_queries = timed(measure(Changes.whole_plan()))
        print(f"whole-plan path, one measurement: {whole * 1000:.0f} ms, {whole_queries} queries (baseline 1.0)")
        for label, write in (
            ("incremental, one measurement (month end)", measure(None)),
            ("incremental, one back-dated measurement (Feb)", back_dated),
            ("incremental, one milestone progress report", progress),
        ):
            seconds, queries = timed(write)
            print(f"{label}: {seconds * 1000:.0f} ms, {queries} queries, {seconds / whole:.3f}x the whole-plan path")
        from plans.incremental import plan_update_incremental
        from plans.models import Plan

        def update_only(attempt):
            revision = Plan.objects.get(pk=plan.pk).data_revision
            changes = Changes.measured([kpi.pk], datetime.date(2025, 12, 30))
            plan_update_incremental(plan_id=plan.pk, changes=changes, first_revision=revision, last_revision=revision)

        seconds, queries = timed(update_only)
        print(f"the incremental update alone (no write): {seconds * 1000:.0f} ms, {queries} queries")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
