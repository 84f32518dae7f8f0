import argparse
import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from plans.models import Plan
from plans.recompute import plan_recompute
from plans.rollup import METHOD_VERSION


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {value!r}") from exc


class Command(BaseCommand):
    help = "Recompute statuses, scores, forecasts and snapshots of one plan or all plans."

    def add_arguments(self, parser):
        parser.add_argument("--plan", metavar="SLUG", help="Only this plan (default: every plan).")
        parser.add_argument(
            "--as-of",
            type=iso_date,
            metavar="YYYY-MM-DD",
            help="Write the snapshot of this date only (default: today's statuses and snapshot); "
            "the current statuses are left as they are.",
        )
        parser.add_argument("--backfill", action="store_true", help="Rebuild every month-end snapshot of the period.")

    def handle(self, *args, plan=None, as_of=None, backfill=False, verbosity=1, **options):
        plans = Plan.objects.order_by("pk")
        if plan:
            plans = plans.filter(slug=plan)
            if not plans.exists():
                raise CommandError(f"No plan with slug {plan!r}.")
        quiet = verbosity == 0
        current = as_of is None or as_of == timezone.localdate()
        for plan_id, slug in tqdm(
            list(plans.values_list("pk", "slug")), desc="Plans", unit="plan", disable=quiet or plans.count() < 2
        ):
            with tqdm(desc=slug, unit="day", disable=quiet, leave=False) as days:
                summary = plan_recompute(
                    plan_id=plan_id, as_of=as_of, backfill=backfill, progress=days, current=current
                )
            if summary and verbosity:
                what = "" if current else " (snapshot only, current statuses unchanged)"
                self.stdout.write(
                    f"Plan {slug}: {summary.items} items as of {summary.as_of}{what}; "
                    f"{len(summary.month_ends)} month-end snapshots rebuilt."
                )
                if summary.method_changed:
                    self.stdout.write(
                        f"Plan {slug}: stored statuses came from another method version; history recomputed "
                        f"with method version {METHOD_VERSION}."
                    )
