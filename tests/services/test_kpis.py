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
