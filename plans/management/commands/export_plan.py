from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from plans.models import Plan
from plans.plan_document import plan_document
from plans.plan_files import plan_xlsx, plan_yaml


class Command(BaseCommand):
    help = (
        "Export a whole plan (structure, targets, measurements, milestone history) as a plan file, XLSX or YAML, "
        "which import_plan (or the import page) reads back to the same plan."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The plan's slug.")
        parser.add_argument("--output", "-o", help="The file to write; its extension (.xlsx, .yaml) sets the format.")
        parser.add_argument("--format", choices=["yaml", "xlsx"], help="Without --output: YAML on standard output.")

    def handle(self, *args, slug, output=None, format=None, **options):
        plan = Plan.objects.filter(slug=slug).first()
        if plan is None:
            raise CommandError(f"No plan with the slug {slug!r}.")
        fmt = format or ("xlsx" if output and output.lower().endswith(".xlsx") else "yaml")
        data = plan_xlsx(plan_document(plan)) if fmt == "xlsx" else plan_yaml(plan_document(plan))
        if output:
            Path(output).write_bytes(data)
            self.stderr.write(f"Wrote {plan.slug} to {output} ({fmt}).")
        elif fmt == "xlsx":
            raise CommandError("An XLSX export needs --output.")
        else:
            self.stdout.write(data.decode("utf-8"), ending="")
