"""Import the reporting-unit register (nation > province > zone) from a CSV or XLSX file."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from plans import services


class Command(BaseCommand):
    help = (
        "Create or update the reporting-unit register from a CSV or XLSX file with the columns code, name_zh, "
        "name_en, level, parent_code, zone_count, active_from, active_until (see plans/demo/units_template.csv). "
        "All or nothing: any bad row is reported with its row number and column, and nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The register file (.csv or .xlsx).")

    def handle(self, *args, path, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No file {path!r}.")
        try:
            with file.open("rb") as handle:
                rows = services.units_read_file(handle, filename=file.name)
            result = services.units_import(rows=rows)
        except services.UnitImportInvalid as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} error(s) in {file.name}; nothing was imported.") from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"{file.name}: {len(result.created)} created, {len(result.updated)} updated, "
                f"{len(result.unchanged)} unchanged."
            )
        )
        for label, codes in (("created", result.created), ("updated", result.updated)):
            if codes:
                self.stdout.write(f"  {label}: {', '.join(codes)}")
