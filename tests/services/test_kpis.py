"""KPI and measurement writes: stale versions name who wrote last; a KPI follows its goal's plan."""

import datetime

import pytest

from plans import services
from plans.models import KPI, Measurement, Plan
from tests.factories import GoalFactory, KPIFactory, MeasurementFactory, UserFactory

pytestmark = pytest.mark.django_db
JUNE_30 = datetime.date(2025, 6, 30)


def test_a_stale_measurement_names_the_author_of_the_last_revision_and_writes_nothing():
    kpi = KPIFactory()
    colleague = UserFactory()
    services.measurement_record(kpi=kpi, date=JUNE_30, value=70, recorded_by=colleague)
    with pytest.raises(services.StaleVersionError) as refused:
        services.measurement_record(kpi=kpi, date=JUNE_30, value=71, expected_version=kpi.version)
    assert refused.value.changed_by == colleague
    assert Measurement.objects.get(kpi=kpi).value == 70


def test_a_kpi_moved_to_a_goal_of_another_plan_marks_both_plans():
    kpi, goal = KPIFactory(), GoalFactory()
    old_plan_id = kpi.plan_id
    before = Plan.objects.get(pk=old_plan_id).data_revision, Plan.objects.get(pk=goal.plan_id).data_revision
    services.kpi_update(kpi=kpi, data={"goal": goal}, expected_version=kpi.version)
    assert KPI.objects.get(pk=kpi.pk).plan_id == goal.plan_id
    after = Plan.objects.get(pk=old_plan_id).data_revision, Plan.objects.get(pk=goal.plan_id).data_revision
    assert after == (before[0] + 1, before[1] + 1)


def test_a_stale_measurement_delete_is_refused_and_deletes_nothing():
    measurement = MeasurementFactory()
    with pytest.raises(services.StaleVersionError):
        services.measurement_delete(measurement=measurement, expected_version=measurement.version + 1)
    assert Measurement.objects.filter(pk=measurement.pk).exists()


def test_a_measurement_delete_bumps_its_kpi_version_once():
    measurement = MeasurementFactory()
    version = KPI.objects.get(pk=measurement.kpi_id).version
    services.measurement_delete(measurement=measurement, expected_version=measurement.version)
    assert KPI.objects.get(pk=measurement.kpi_id).version == version + 1


@pytest.mark.parametrize(
    "unit, name, expected",
    [
        ("%", "Zones' share of the nation's R&D personnel", (0, 100)),
        ("%", "Year-on-year GDP growth of the zones", (-100, None)),
        ("points", "Annual growth of the zones' innovation index", (None, None)),
        ("trillion yuan", "GDP of the national high-tech zones", (0, None)),
        ("institutions", "Provincial-level R&D institutions", (0, None)),
        ("percent", "Coverage", (0, 100)),
        ("ratio", "Output per worker", (None, None)),
    ],
)
def test_the_default_range_follows_the_unit_and_a_growth_rate_may_be_negative(unit, name, expected):
    from plans.models.kpis import kpi_default_range

    assert kpi_default_range(unit=unit, name=name) == expected


def test_typical_change_is_the_median_of_consecutive_changes_with_three_measurements():
    kpi = KPIFactory.build(baseline_value=60, target_value=80, frequency="quarterly")
    assert services.kpi_typical_change(kpi=kpi, values=[61, 62, 72, 73]) == 1


def test_typical_change_falls_back_to_the_planned_change_per_period_with_fewer_measurements():
    kpi = KPIFactory.build(baseline_value=60, target_value=80, frequency="quarterly")
    assert services.kpi_typical_change(kpi=kpi, values=[61, 62]) == 5


def test_a_jump_with_a_note_is_recorded():
    kpi = KPIFactory()
    result = services.measurement_record(kpi=kpi, date=JUNE_30, value=5, note="Rebased series.")
    assert result.outcome == "created"


def test_a_kpi_created_without_a_range_gets_its_units_default():
    goal = GoalFactory()
    data = {
        "goal": goal,
        "code": "S",
        "name": "Share",
        "unit": "%",
        "baseline_value": 10,
        "baseline_date": datetime.date(2024, 12, 31),
        "target_value": 20,
        "target_date": datetime.date(2025, 12, 31),
        "frequency": "annual",
    }
    kpi = services.kpi_create(data=data)
    assert (kpi.min_value, kpi.max_value) == (0, 100)
