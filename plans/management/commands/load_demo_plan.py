import datetime

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from plans import services
from plans.choices import Aggregation, ChangeChannel, UnitLevel
from plans.demo import demo_backdate, demo_plan_data, demo_review_story
from plans.models import KPI, ReportingUnit, Team


class Command(BaseCommand):
    help = (
        "Load the demo plan (2025 Action Plan for National High-Tech Zones), its zone register with the zones' "
        "illustrative figures, and demo users. Creates what is missing and never changes what exists, so progress, "
        "values, definitions, units and passwords entered since are kept."
    )

    def handle(self, *args, **options):
        data = demo_plan_data()
        loaded_since = timezone.now()
        with transaction.atomic():
            plan, changed = services.plan_import(data=data, overwrite=False)
            try:
                created_units = units_load(data["units"])
            except services.UnitImportInvalid as exc:
                # A register of one's own that clashes with the demo's (another nation, say) is kept as it is.
                created_units = []
                self.stderr.write("The demo's zone register was not loaded; the register stays as it is:")
                for error in exc.errors:
                    self.stderr.write(f"  {error}")
            zone_values = zone_figures_load(plan, data, first=any(u.level == UnitLevel.NATION for u in created_units))
            users = []
            for spec in data["users"]:
                teams = list(Team.objects.filter(name__in=spec["teams"]))
                user, created = services.user_ensure(
                    username=spec["username"],
                    password=spec["password"],
                    role=spec["role"],
                    admin=spec.get("admin", False),
                    teams=teams,
                    first_name=spec["first_name"],
                    last_name=spec["last_name"],
                )
                if created:
                    for unit in ReportingUnit.objects.filter(code__in=spec.get("units", [])):
                        services.unit_update(unit=unit, data={}, reporters=[*unit.reporters.all(), user])
                users.append(spec)
            # The plan reviews its figures (counting "approved"): the loaded ones approved, a few awaiting review.
            demo_review_story(plan)
            demo_backdate(plan, loaded_since=loaded_since)
        verb = "Loaded" if changed or created_units or zone_values else "Already loaded (nothing changed):"
        self.stdout.write(self.style.SUCCESS(f"{verb} {plan.name} ({plan.slug})."))
        self.stdout.write(data["notice"])
        self.stdout.write(data["units_note"])
        if created_units or zone_values:
            self.stdout.write(f"Zone register: {len(created_units)} units added; {zone_values} zone figures added.")
        self.stdout.write("Demo users (username / password, role, teams or zones):")
        for spec in users:
            scope = ", ".join(spec["teams"]) or ", ".join(spec.get("units", [])) or "all teams"
            self.stdout.write(f"  {spec['username']:18} / {spec['password']:18} {spec['role']:8} {scope}")


def units_load(rows) -> list[ReportingUnit]:
    """The register's units that are missing; a unit already there (perhaps renamed since) is left as it is."""
    existing = set(ReportingUnit.objects.values_list("code", flat=True))
    missing = [row for row in rows if row["code"] not in existing]
    if not missing:
        return []
    return list(ReportingUnit.objects.filter(code__in=services.units_import(rows=missing).created))


def zone_figures_load(plan, data, *, first: bool) -> int:
    """Each KPI's zone figures that are missing. The KPIs get their aggregation settings from the file only on
    the ``first`` load of the register (it created the nation), and only where they still aggregate nothing:
    a manager's choice since is kept."""
    kpis = {kpi.code: kpi for kpi in KPI.objects.filter(plan=plan)}
    units = {unit.code: unit for unit in ReportingUnit.objects.all()}
    added = 0
    for spec in (k for fa in data["focus_areas"] for g in fa["goals"] for k in g.get("kpis", [])):
        kpi = kpis.get(spec["code"])
        if kpi is None or "aggregation" not in spec:
            continue
        if first and kpi.aggregation == Aggregation.NONE:
            settings = {"aggregation": spec["aggregation"]}
            if spec.get("base_kpi") in kpis:
                settings["base_kpi"] = kpis[spec["base_kpi"]]
            if "ratio_scale" in spec:
                settings["ratio_scale"] = float(spec["ratio_scale"])
            kpi = services.kpi_update(kpi=kpi, data=settings, channel=ChangeChannel.IMPORT)
        denominator = spec.get("unit_denominator")
        values = [
            services.UnitValue(
                unit=units[code],
                date=datetime.date.fromisoformat(date),
                # A ratio KPI's zones give their count; the value is their share of the national denominator.
                value=figure / denominator * kpi.ratio_scale if denominator else figure,
                numerator=figure if denominator else None,
            )
            for code, series in spec.get("unit_measurements", {}).items()
            if code in units
            for date, figure in series
        ]
        added += services.unit_values_load(kpi=kpi, values=values)
    return added
