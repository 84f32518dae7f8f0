"""Create an API token and print its key once: only its SHA-256 is stored."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from plans.choices import ApiTokenScope
from plans.models import ReportingUnit, Team
from plans.services import api_token_create


class Command(BaseCommand):
    help = "Create an API token for an external system; the key is printed once and stored hashed."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the token is for, e.g. 'statistics bureau sync'.")
        parser.add_argument("--scope", required=True, choices=ApiTokenScope.values)
        parser.add_argument("--team", help="Team name (or id): the token then writes only this team's items.")
        parser.add_argument(
            "--unit",
            action="append",
            default=[],
            metavar="CODE",
            help="A reporting unit's code (repeatable): the token then reads and writes only these units' figures.",
        )
        parser.add_argument(
            "--owner", metavar="USERNAME", help="The person answerable for the token's writes (recorded on it)."
        )
        parser.add_argument(
            "--authoritative",
            action="store_true",
            help="An authoritative source (a statistics bureau's feed): its values are approved on arrival on plans "
            "that review their figures; other tokens' values arrive as submitted.",
        )

    def handle(self, *args, name, scope, team=None, owner=None, unit=(), authoritative=False, **options):
        team_obj = None
        if team:
            lookup = {"pk": int(team)} if team.isdigit() else {"name": team}
            team_obj = Team.objects.filter(**lookup).first()
            if team_obj is None:
                raise CommandError(f"No team {team!r}.")
        owner_obj = None
        if owner:
            owner_obj = get_user_model().objects.filter(username=owner).first()
            if owner_obj is None:
                raise CommandError(f"No user {owner!r}.")
        units = list(ReportingUnit.objects.filter(code__in=unit))
        missing = sorted(set(unit) - {u.code for u in units})
        if missing:
            raise CommandError(f"No reporting unit {', '.join(missing)}.")
        token, key = api_token_create(
            name=name, scope=scope, team=team_obj, created_by=owner_obj, units=units, authoritative=authoritative
        )
        self.stderr.write(f"Created API token {token}. Store the key now: it is not shown again.")
        self.stdout.write(key)
