import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_are_in_sync():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_roles_are_created_by_migration():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"staff", "manager"}


@pytest.mark.django_db
def test_snapshot_compaction_keeps_month_ends_and_summarises_kpi_points():
    import datetime
    import importlib

    from django.apps import apps

    from plans.models import KPI, StatusSnapshot
    from plans.rollup import MeasurementPoint, kpi_status
    from tests.factories import KPIFactory

    migration = importlib.import_module("plans.migrations.0013_compact_snapshots")
    kpi = KPIFactory()
    points = [MeasurementPoint(datetime.date(2024, 12, 31), 59.0)] + [
        MeasurementPoint(datetime.date(2025, m, 28), 60.0 + m) for m in range(1, 9)
    ]
    args = dict(
        baseline_value=60.0,
        baseline_date=datetime.date(2024, 12, 31),
        target_value=80.0,
        target_date=datetime.date(2025, 12, 31),
        direction="increase",
        frequency="monthly",
        measurements=points,
    )
    compact = kpi_status(as_of=datetime.date(2025, 6, 30), **args).explanation
    # What the method stored before: every point listed, in inputs and in the fit.
    rows = [
        {
            "date": "2024-12-31",
            "value": 59.0,
            "recorded_at": None,
            "used": False,
            "reason": "on_or_before_baseline_date",
        }
    ]
    rows += [
        {"date": p.date.isoformat(), "value": p.value, "recorded_at": None, "used": p.date.month <= 6, "reason": None}
        for p in points[1:]
    ]
    for row in rows[7:]:
        row["reason"] = "after_as_of_date"
    old_inputs = {k: v for k, v in compact["inputs"].items() if k != "points"} | {"measurements": rows}
    old = {**compact, "inputs": old_inputs, "values": {**compact["values"], "points": [[0.0, 60.0]]}}
    KPI.objects.filter(pk=kpi.pk).update(explanation=old)
    for day in ("2025-06-15", "2025-06-30", "2025-07-01", "2025-07-02"):
        StatusSnapshot.objects.create(
            plan=kpi.plan,
            item_type="kpi",
            item_id=kpi.pk,
            as_of=datetime.date.fromisoformat(day),
            status="on_track",
            explanation=old if day == "2025-06-30" else None,
        )

    migration.drop_stray_days(apps, None)
    migration.compact_explanations(apps, None)

    assert sorted(str(d) for d in StatusSnapshot.objects.values_list("as_of", flat=True)) == [
        "2025-06-30",
        "2025-07-02",
    ]
    assert KPI.objects.get(pk=kpi.pk).explanation == compact
    assert StatusSnapshot.objects.get(as_of=datetime.date(2025, 6, 30)).explanation == compact
