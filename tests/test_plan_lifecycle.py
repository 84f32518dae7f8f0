"""A plan's lifecycle (plans/services/lifecycle.py): draft -> active -> closed; a closed plan refuses writes on
every channel; a draft is seen by managers only; last year's plan copied as a draft for the next one."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from plans import services
from plans.choices import DefinitionItemType, MilestoneState, PlanState
from plans.models import KPI, DefinitionChange, Measurement, Milestone, Plan
from tests.factories import (
    GoalFactory,
    KPIFactory,
    MeasurementFactory,
    MilestoneFactory,
    PlanFactory,
    api_client,
    api_token,
)

pytestmark = pytest.mark.django_db

AFTER_END = datetime.date(2026, 3, 1)


@pytest.fixture
def plan():
    return PlanFactory(slug="tech-2025", name="Tech plan", baseline_year=2024)


@pytest.fixture
def closed_plan(plan, team, manager):
    kpi = KPIFactory(goal__focus_area__plan=plan, goal__owner_team=team, code="RD", target_value=80.0)
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 12, 31), value=85.0)
    MilestoneFactory(goal=kpi.goal, state=MilestoneState.DONE, percent_complete=100, title="Lab opened")
    MilestoneFactory(goal=kpi.goal, title="Park expanded", percent_complete=40, state=MilestoneState.IN_PROGRESS)
    services.plan_close(plan=plan, author=manager, today=AFTER_END)
    plan.refresh_from_db()
    return plan


def test_existing_and_factory_plans_are_active_and_writable(plan):
    assert plan.state == PlanState.ACTIVE
    GoalFactory(focus_area__plan=plan)


def test_activate_and_close_are_versioned_and_in_the_history(manager):
    plan = services.plan_create(
        data={
            "name": "P",
            "slug": "p",
            "baseline_year": 2024,
            "start_date": datetime.date(2025, 1, 1),
            "end_date": datetime.date(2025, 12, 31),
        },
        author=manager,
    )
    assert plan.state == PlanState.DRAFT
    with pytest.raises(ValidationError):
        services.plan_close(plan=plan, today=AFTER_END)  # only an active plan closes
    with pytest.raises(services.StaleVersionError):
        services.plan_activate(plan=plan, expected_version=9)
    plan = services.plan_activate(plan=plan, expected_version=1, author=manager)
    assert (plan.state, plan.version) == (PlanState.ACTIVE, 2)
    services.plan_close(plan=plan, author=manager, today=AFTER_END)
    states = DefinitionChange.objects.filter(item_type=DefinitionItemType.PLAN, item_id=plan.pk, field="state")
    assert [(c.old_value, c.new_value) for c in states.order_by("changed_at", "id")] == [
        ("draft", "active"),
        ("active", "closed"),
    ]


def test_closing_before_the_end_date_needs_confirmation(plan):
    with pytest.raises(ValidationError) as refused:
        services.plan_close(plan=plan, today=datetime.date(2025, 6, 1))
    assert refused.value.code == "close_early"
    assert Plan.objects.get(pk=plan.pk).state == PlanState.ACTIVE
    services.plan_close(plan=plan, early=True, today=datetime.date(2025, 6, 1))
    assert Plan.objects.get(pk=plan.pk).state == PlanState.CLOSED


def test_a_closed_plan_refuses_writes_through_the_services(closed_plan, manager):
    kpi = KPI.objects.get(plan=closed_plan)
    milestone = Milestone.objects.filter(plan=closed_plan).exclude(state=MilestoneState.DONE).get()
    refused = [
        lambda: services.measurement_record(kpi=kpi, date=datetime.date(2025, 12, 31), value=86.0),
        lambda: services.kpi_update(kpi=kpi, data={"target_value": 99.0}),
        lambda: services.milestone_progress_record(milestone=milestone, percent_complete=60, state="in_progress"),
        lambda: services.goal_create(
            data={"focus_area": kpi.goal.focus_area, "code": "NEW", "title": "New", "owner_team": kpi.owner_team}
        ),
        lambda: services.kpi_delete(kpi=kpi),
    ]
    for write in refused:
        with pytest.raises(services.PlanClosed):
            write()
    kpi.refresh_from_db()
    assert kpi.target_value == 80.0 and Measurement.objects.filter(kpi=kpi).count() == 1
    assert Milestone.objects.get(pk=milestone.pk).percent_complete == 40


def test_a_closed_plan_answers_409_on_the_api_single_and_bulk(closed_plan):
    kpi = KPI.objects.get(plan=closed_plan)
    _, key = api_token(scope="manage")
    client = api_client(key)
    response = client.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-12-31", "value": 86})
    assert response.status_code == 409, response.content
    assert "is closed" in response.json()["detail"]
    rows = [{"kpi": kpi.pk, "date": "2025-12-31", "value": 86.5, "note": ""}]
    response = client.post("/api/v1/measurements/bulk/", {"measurements": rows})
    assert response.status_code == 409, response.content
    assert "is closed" in response.json()["detail"]
    assert Measurement.objects.filter(kpi=kpi).count() == 1


def test_a_closed_plan_refuses_the_staff_form(client, staff, closed_plan):
    kpi = KPI.objects.get(plan=closed_plan)
    client.force_login(staff)
    response = client.post(
        reverse("plans:measurement_create", args=[kpi.pk]),
        {"version": kpi.version, "date": "2025-12-31", "value": "86"},
    )
    assert "is closed" in response.content.decode()
    assert Measurement.objects.filter(kpi=kpi).count() == 1


def test_the_closed_plan_dashboard_shows_its_final_report(client, manager, closed_plan):
    client.force_login(manager)
    page = client.get(reverse("plans:dashboard", args=[closed_plan.slug])).content.decode()
    assert "Final report" in page
    assert "Milestones done: 1 of 2 (50%)" in page
    assert "Park expanded" in page  # listed as not completed
    assert "85" in page  # RD's final figure against its target of 80


def test_manage_pages_close_and_refuse_edits(client, manager):
    plan = PlanFactory(start_date=datetime.date.today(), end_date=datetime.date.today() + datetime.timedelta(days=60))
    client.force_login(manager)
    url = reverse("plans:manage_plan_lifecycle", args=[plan.slug, "close"])
    client.post(url, {"version": "1"})  # before its end date, without confirmation: refused
    assert Plan.objects.get(pk=plan.pk).state == PlanState.ACTIVE
    client.post(url, {"version": "1", "early": "on"})
    assert Plan.objects.get(pk=plan.pk).state == PlanState.CLOSED
    response = client.post(
        reverse("plans:manage_item_create", args=[plan.slug, "focus-area"]),
        {"code": "LATE", "name": "Late", "order": "0", "weight": "1"},
    )
    assert response.status_code == 400 and "is closed" in response.content.decode()
    assert not plan.focus_areas.filter(code="LATE").exists()


def test_a_draft_is_seen_by_managers_only(client, manager, staff):
    draft = PlanFactory(slug="draft-2026", name="Secret draft", state=PlanState.DRAFT)
    client.force_login(staff)
    assert "Secret draft" not in client.get(reverse("plans:home")).content.decode()
    assert client.get(reverse("plans:dashboard", args=[draft.slug])).status_code == 404
    client.force_login(manager)
    assert "Secret draft" in client.get(reverse("plans:home")).content.decode()
    assert client.get(reverse("plans:dashboard", args=[draft.slug])).status_code == 200
    _, key = api_token(scope="read")
    slugs = [row["slug"] for row in api_client(key).get("/api/v1/plans/").json()["results"]]
    assert "draft-2026" not in slugs


def test_copy_as_next_years_draft(plan, team, manager):
    kpi = KPIFactory(goal__focus_area__plan=plan, goal__owner_team=team, code="RD", baseline_value=60.0)
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 9, 30), value=70.0)
    MeasurementFactory(kpi=kpi, date=datetime.date(2025, 12, 31), value=78.0)
    untouched = KPIFactory(goal=kpi.goal, code="EMPTY", baseline_value=5.0, unit="index")
    MilestoneFactory(goal=kpi.goal, title="Lab", due_date=datetime.date(2025, 6, 30), percent_complete=50)
    copy = services.plan_copy_next_year(plan=plan, author=manager)
    assert (copy.state, copy.slug, copy.start_date, copy.end_date) == (
        PlanState.DRAFT,
        "tech-2026",
        datetime.date(2026, 1, 1),
        datetime.date(2026, 12, 31),
    )
    assert copy.baseline_year == 2025
    new_kpi = KPI.objects.get(plan=copy, code="RD")
    assert (new_kpi.baseline_value, new_kpi.baseline_date) == (78.0, datetime.date(2025, 12, 31))
    assert new_kpi.target_date == datetime.date(2026, 12, 31) and new_kpi.owner_team == team
    assert not Measurement.objects.filter(kpi__plan=copy).exists()
    empty = KPI.objects.get(plan=copy, code="EMPTY")
    assert (empty.baseline_value, empty.baseline_date) == (5.0, datetime.date(2025, 12, 31))
    assert untouched.baseline_date == datetime.date(2024, 12, 31)
    milestone = Milestone.objects.get(plan=copy)
    assert (milestone.due_date, milestone.percent_complete) == (datetime.date(2026, 6, 30), 0)
    # The source is untouched.
    assert KPI.objects.filter(plan=plan).count() == 2 and Measurement.objects.filter(kpi__plan=plan).count() == 2
