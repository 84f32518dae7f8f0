from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from plans import services
from plans.plan_files import PlanFileInvalid, plan_file_read


class Command(BaseCommand):
    help = (
        "Import a plan file (XLSX or YAML, as export_plan writes it): creates the plan or brings it to the file, "
        "creating, changing and deleting records, in one transaction. Any error and nothing changes."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .xlsx, .yaml or .yml file.")
        parser.add_argument("--slug", help="Import into this plan (created when missing) instead of the file's.")
        parser.add_argument("--dry-run", action="store_true", help="Show what would change and write nothing.")
        parser.add_argument("--user", help="The username recorded as the author of the changes.")

    def handle(self, *args, path, slug=None, dry_run=False, user=None, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No file {path}.")
        author = None
        if user:
            author = get_user_model().objects.filter(username=user).first()
            if author is None:
                raise CommandError(f"No user {user!r}.")
        try:
            document, first_row = plan_file_read(file.read_bytes(), filename=file.name)
            slug = slug or document["plan"]["slug"]
            run = services.plan_import_preview if dry_run else services.plan_import_apply
            result = run(document=document, slug=slug, author=author, first_row=first_row)
        except PlanFileInvalid as exc:
            for error in exc.errors:
                self.stderr.write(str(error))
            raise CommandError(f"{len(exc.errors)} error(s) in {file.name}; nothing was changed.") from exc
        for part in result.kinds:
            if part.created or part.changed or part.deleted:
                self.stdout.write(
                    f"{part.kind.sheet}: {len(part.created)} created, {len(part.changed)} changed, "
                    f"{len(part.deleted)} deleted"
                )
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {file.name} into {slug}: {result.created_count} created, {result.changed_count} changed, "
                f"{result.deleted_count} deleted."
            )
        )
