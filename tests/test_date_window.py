"""Every date an item carries lies within its plan's window (baseline year - 1 to end + 5 years), on every
channel, and a stray early date cannot make a recompute walk thousands of month ends."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from plans import services
from plans.models import KPI, Measurement, Milestone, MilestoneUpdate
from plans.recompute import plan_recompute
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory

YEAR_ONE = "0001-01-01"


def test_the_plan_window_runs_from_the_year_before_the_baseline_to_five_years_past_the_end(db):
    plan = GoalFactory().plan
    assert plan.date_window() == (datetime.date(2023, 1, 1), datetime.date(2030, 12, 31))


def test_a_milestone_completed_in_year_one_is_refused_by_the_progress_api(writer):
    milestone = MilestoneFactory(percent_complete=40, state="in_progress")
    body = {"milestone": milestone.pk, "percent_complete": 100, "state": "done", "completed_on": YEAR_ONE}
    response = writer.post("/api/v1/milestone-updates/", body, format="json")
    assert response.status_code == 400
    assert "completed_on" in str(response.json())
    assert not MilestoneUpdate.objects.exists()
    assert Milestone.objects.get(pk=milestone.pk).percent_complete == 40


def test_a_milestone_due_in_year_one_is_refused_by_the_milestone_api(writer):
    milestone = MilestoneFactory()
    response = writer.patch(f"/api/v1/milestones/{milestone.pk}/", {"due_date": YEAR_ONE}, format="json")
    assert response.status_code == 400
    assert Milestone.objects.get(pk=milestone.pk).version == 1


def test_a_kpi_baseline_in_year_one_is_refused_by_the_kpi_api(writer):
    kpi = KPIFactory()
    response = writer.patch(f"/api/v1/kpis/{kpi.pk}/", {"baseline_date": YEAR_ONE}, format="json")
    assert response.status_code == 400
    assert "baseline_date" in response.json()
    assert KPI.objects.get(pk=kpi.pk).version == 1


def test_a_measurement_and_a_bulk_row_dated_in_year_one_are_refused(writer):
    kpi = KPIFactory()
    single = writer.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": YEAR_ONE, "value": 61}, format="json")
    rows = [{"kpi": kpi.pk, "date": YEAR_ONE, "value": 61}]
    bulk = writer.post("/api/v1/measurements/bulk/", {"measurements": rows}, format="json")
    assert (single.status_code, bulk.status_code) == (400, 400)
    assert not Measurement.objects.exists()


def test_a_goal_due_past_the_window_is_refused_by_the_service(db):
    goal = GoalFactory()
    with pytest.raises(ValidationError) as refused:
        services.goal_update(goal=goal, data={"due_date": datetime.date(2031, 1, 1)})
    assert "due_date" in refused.value.error_dict


def test_a_stray_year_one_date_costs_the_recompute_no_more_than_the_plan_period(db):
    kpi = KPIFactory()
    plan_recompute(plan_id=kpi.plan_id)
    # Written before dates were checked (or by hand): the services would refuse both.
    Measurement.objects.bulk_create([Measurement(kpi=kpi, date=datetime.date(1, 1, 1), value=61)])
    Milestone.objects.filter(pk=MilestoneFactory(goal=kpi.goal).pk).update(completed_on=datetime.date(1, 1, 1))
    summary = plan_recompute(plan_id=kpi.plan_id)
    assert len(summary.month_ends) <= 12
