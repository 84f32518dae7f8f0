from django.core.management.base import BaseCommand
from django.db import transaction

from plans import services
from plans.demo import demo_plan_data, demo_review_story
from plans.models import Team


class Command(BaseCommand):
    help = (
        "Load the demo plan (2025 Action Plan for National High-Tech Zones) and demo users. Creates what is "
        "missing and never changes what exists, so progress, values and passwords entered since are kept."
    )

    def handle(self, *args, **options):
        data = demo_plan_data()
        with transaction.atomic():
            plan, changed = services.plan_import(data=data, overwrite=False)
            users = []
            for spec in data["users"]:
                teams = list(Team.objects.filter(name__in=spec["teams"]))
                services.user_ensure(
                    username=spec["username"],
                    password=spec["password"],
                    role=spec["role"],
                    admin=spec.get("admin", False),
                    teams=teams,
                    first_name=spec["first_name"],
                    last_name=spec["last_name"],
                )
                users.append(spec)
            # The plan reviews its figures (counting "approved"): the loaded ones approved, a few awaiting review.
            demo_review_story(plan)
        verb = "Loaded" if changed else "Already loaded (nothing changed):"
        self.stdout.write(self.style.SUCCESS(f"{verb} {plan.name} ({plan.slug})."))
        self.stdout.write(data["notice"])
        self.stdout.write("Demo users (username / password, role, teams):")
        for spec in users:
            teams = ", ".join(spec["teams"]) or "all teams"
            self.stdout.write(f"  {spec['username']:18} / {spec['password']:18} {spec['role']:8} {teams}")
