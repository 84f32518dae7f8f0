import datetime

import pytest
from django.db import IntegrityError, transaction

from plans.models import KPI, Measurement, Milestone
from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, MilestoneFactory, PlanFactory

pytestmark = pytest.mark.django_db


def assert_rejected(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 1e16])
def test_measurement_value_must_be_finite(value):
    kpi = KPIFactory()
    assert_rejected(lambda: Measurement.objects.create(kpi=kpi, date=datetime.date(2025, 3, 31), value=value))
    assert not Measurement.objects.exists()


def test_kpi_baseline_must_be_finite():
    goal = GoalFactory()
    assert_rejected(lambda: KPIFactory(goal=goal, baseline_value=float("nan")))


def test_milestone_percent_above_100_is_rejected():
    assert_rejected(lambda: MilestoneFactory(percent_complete=101))


def test_milestone_due_before_start_is_rejected():
    assert_rejected(lambda: MilestoneFactory(start_date=datetime.date(2025, 6, 1), due_date=datetime.date(2025, 5, 1)))


def test_goal_due_before_start_is_rejected():
    assert_rejected(lambda: GoalFactory(start_date=datetime.date(2025, 6, 1), due_date=datetime.date(2025, 5, 1)))


def test_kpi_target_date_must_follow_baseline_date():
    assert_rejected(lambda: KPIFactory(target_date=datetime.date(2024, 12, 31)))


def test_kpi_code_is_unique_within_its_plan():
    kpi = KPIFactory(code="GDP")
    other_goal = GoalFactory(focus_area=FocusAreaFactory(plan=kpi.plan))
    assert_rejected(lambda: KPIFactory(goal=other_goal, code="GDP"))


def test_same_kpi_code_is_allowed_in_another_plan():
    KPIFactory(code="GDP")
    KPIFactory(code="GDP")
    assert KPI.objects.filter(code="GDP").count() == 2


def test_focus_area_code_is_unique_within_its_plan():
    plan = PlanFactory()
    FocusAreaFactory(plan=plan, code="RD")
    assert_rejected(lambda: FocusAreaFactory(plan=plan, code="RD"))


@pytest.mark.parametrize("factory", [FocusAreaFactory, GoalFactory, KPIFactory, MilestoneFactory])
def test_weight_must_be_above_zero(factory):
    assert_rejected(lambda: factory(weight=0))


def test_plan_end_must_follow_start():
    assert_rejected(lambda: PlanFactory(end_date=datetime.date(2024, 1, 1)))


def test_one_current_measurement_per_kpi_date_and_source():
    m = Measurement.objects.create(kpi=KPIFactory(), date=datetime.date(2025, 3, 31), value=1, source="api")
    assert_rejected(lambda: Measurement.objects.create(kpi=m.kpi, date=m.date, value=2, source="api"))


def test_external_id_is_unique_per_source():
    KPIFactory(source="nbs", external_id="gdp")
    assert_rejected(lambda: KPIFactory(source="nbs", external_id="gdp"))


def test_blank_external_ids_do_not_collide():
    KPIFactory(source="", external_id="")
    KPIFactory(source="", external_id="")
    assert KPI.objects.count() == 2


def test_milestone_defaults_plan_and_owner_team_from_its_goal():
    goal = GoalFactory()
    milestone = Milestone.objects.create(goal=goal, title="M", due_date=datetime.date(2025, 6, 30))
    assert (milestone.plan_id, milestone.owner_team_id) == (goal.plan_id, goal.owner_team_id)


def test_full_clean_reports_percent_out_of_range_as_field_error():
    from django.core.exceptions import ValidationError

    milestone = MilestoneFactory.build(goal=GoalFactory(), percent_complete=150)
    with pytest.raises(ValidationError) as excinfo:
        milestone.full_clean()
    assert "percent_complete" in excinfo.value.message_dict
