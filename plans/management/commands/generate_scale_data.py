import argparse

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from plans.recompute import plan_recompute
from plans.scale_data import ScaleDataExists, Sizes, scale_plan_create, scale_plan_rows, statistics_refresh


def positive_scale(value: str) -> float:
    try:
        scale = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, not {value!r}") from exc
    if not 0 < scale <= 100:
        raise argparse.ArgumentTypeError("must be above 0 and at most 100")
    return scale


class Command(BaseCommand):
    help = (
        "Create a deterministic national-scale plan: scale 1 is 12 focus areas, 240 goals, 2,400 milestones, "
        "1,200 KPIs and 240,000 measurements; scale N multiplies all but the focus areas by N."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=positive_scale, required=True, help="Size; fractions such as 0.01 work.")
        parser.add_argument("--seed", type=int, default=1, help="The same seed gives the same plan (default 1).")
        parser.add_argument("--plan-slug", default="national-scale", help="Slug of the plan (default national-scale).")
        parser.add_argument("--replace", action="store_true", help="Delete a plan with this slug first.")
        parser.add_argument(
            "--no-recompute", action="store_true", help="Leave the statuses to the next recompute (the plan is marked)."
        )

    def handle(self, *args, scale, seed, plan_slug, replace, no_recompute, verbosity=1, **options):
        sizes = Sizes.at(scale)
        with tqdm(total=scale_plan_rows(sizes), unit="row", unit_scale=True, disable=verbosity == 0) as bar:
            try:
                plan = scale_plan_create(scale=scale, seed=seed, slug=plan_slug, replace=replace, progress=bar)
            except ScaleDataExists as exc:
                raise CommandError(f"A plan with slug {plan_slug!r} exists; pass --replace to rebuild it.") from exc
        if not no_recompute:
            with tqdm(desc="recompute", unit="day", disable=verbosity == 0, leave=False) as days:
                plan_recompute(plan_id=plan.pk, progress=days)
            statistics_refresh()  # the statuses the dashboards filter on are written now
        if verbosity:
            self.stdout.write(
                f"Plan {plan.slug}: {sizes.focus_areas} focus areas, {sizes.goals} goals, {sizes.milestones} "
                f"milestones, {sizes.kpis} KPIs, {sizes.measurements} measurements."
            )
