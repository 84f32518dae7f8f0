"""Plan management in the app (plans/views/manage.py): managers only, every write through the services with
versions and history, a stale edit refused with nothing changed."""

import datetime

import pytest
from django.urls import reverse

from plans.choices import DefinitionItemType, PlanState
from plans.models import KPI, DefinitionChange, FocusArea, Goal, Milestone, Plan
from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, MilestoneFactory, PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    return PlanFactory(slug="tech-2025", name="Tech plan", baseline_year=2024)


@pytest.fixture
def signed_in_manager(client, manager):
    client.force_login(manager)
    return client


def test_staff_are_refused_every_manage_page(client, staff, plan, team):
    goal = GoalFactory(focus_area__plan=plan, owner_team=team)
    client.force_login(staff)
    urls = [
        reverse("plans:manage_home"),
        reverse("plans:manage_plan", args=[plan.slug]),
        reverse("plans:manage_plan_create"),
        reverse("plans:manage_item_create", args=[plan.slug, "kpi"]),
        reverse("plans:manage_item_edit", args=["goal", goal.pk]),
        reverse("plans:manage_item_delete", args=["goal", goal.pk]),
        reverse("plans:manage_users"),
        reverse("plans:manage_teams"),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("plans:manage_item_delete", args=["goal", goal.pk])).status_code == 403
    assert Goal.objects.filter(pk=goal.pk).exists()


def test_manage_link_shows_to_managers_only(client, manager, staff):
    client.force_login(staff)
    assert reverse("plans:manage_home") not in client.get(reverse("plans:my_work")).content.decode()
    client.force_login(manager)
    assert reverse("plans:manage_home") in client.get(reverse("plans:my_work")).content.decode()


def test_manager_creates_a_plan_as_a_draft(signed_in_manager, manager):
    response = signed_in_manager.post(
        reverse("plans:manage_plan_create"),
        {
            "name": "Innovation 2026",
            "name_zh": "创新 2026",
            "slug": "innovation-2026",
            "baseline_year": "2025",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "counting": "all",
        },
    )
    assert response.status_code == 302
    plan = Plan.objects.get(slug="innovation-2026")
    assert plan.state == PlanState.DRAFT and plan.name_zh == "创新 2026"
    change = DefinitionChange.objects.get(item_type=DefinitionItemType.PLAN, item_id=plan.pk)
    assert change.changed_by == manager and change.channel == "web"


def test_manager_builds_a_goal_with_a_kpi_and_a_milestone(signed_in_manager, plan, team):
    client = signed_in_manager
    assert (
        client.post(
            reverse("plans:manage_item_create", args=[plan.slug, "focus-area"]),
            {"code": "FA1", "name": "Research", "order": "1", "weight": "2"},
        ).status_code
        == 302
    )
    area = FocusArea.objects.get(plan=plan, code="FA1")
    client.post(
        reverse("plans:manage_item_create", args=[plan.slug, "goal"]),
        {"focus_area": area.pk, "code": "G1", "title": "More R&D", "owner_team": team.pk, "weight": "1"},
    )
    goal = Goal.objects.get(plan=plan, code="G1")
    response = client.post(
        reverse("plans:manage_item_create", args=[plan.slug, "kpi"]),
        {
            "goal": goal.pk,
            "code": "K1",
            "name": "R&D intensity",
            "name_zh": "研发投入强度",
            "unit": "%",
            "unit_zh": "%",
            "direction": "increase",
            "baseline_value": "2.1",
            "baseline_date": "2024-12-31",
            "target_value": "2.5",
            "target_date": "2025-12-31",
            "frequency": "annual",
            "weight": "3",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    kpi = KPI.objects.get(plan=plan, code="K1")
    assert (kpi.owner_team, kpi.baseline_value, kpi.weight, kpi.name_zh) == (team, 2.1, 3, "研发投入强度")
    assert (kpi.min_value, kpi.max_value) == (0.0, 100.0)  # the unit's default range, as kpi_create gives it
    client.post(
        reverse("plans:manage_item_create", args=[plan.slug, "milestone"]),
        {"goal": goal.pk, "title": "Open the lab", "due_date": "2025-09-30", "weight": "1"},
    )
    milestone = Milestone.objects.get(goal=goal)
    assert milestone.owner_team == team and milestone.due_date == datetime.date(2025, 9, 30)
    page = client.get(reverse("plans:manage_plan", args=[plan.slug])).content.decode()
    assert "R&amp;D intensity" in page and "Open the lab" in page
    assert Plan.objects.get(pk=plan.pk).data_revision >= 4  # each write marked the plan for its recompute


def test_invalid_kpi_is_refused_on_its_field_and_nothing_written(signed_in_manager, plan, team):
    goal = GoalFactory(focus_area__plan=plan, owner_team=team)
    response = signed_in_manager.post(
        reverse("plans:manage_item_create", args=[plan.slug, "kpi"]),
        {
            "goal": goal.pk,
            "code": "bad code",
            "name": "X",
            "unit": "%",
            "direction": "increase",
            "baseline_value": "NaN",
            "baseline_date": "2024-12-31",
            "target_value": "5",
            "target_date": "2025-12-31",
            "frequency": "annual",
            "weight": "1",
        },
    )
    assert response.status_code == 400
    assert not KPI.objects.exists()
    response = signed_in_manager.post(
        reverse("plans:manage_item_create", args=[plan.slug, "kpi"]),
        {
            "goal": goal.pk,
            "code": "bad code",
            "name": "X",
            "unit": "%",
            "direction": "increase",
            "baseline_value": "1",
            "baseline_date": "2024-12-31",
            "target_value": "5",
            "target_date": "2025-12-31",
            "frequency": "annual",
            "weight": "1",
        },
    )
    assert response.status_code == 400
    assert "letters, digits, dots" in response.content.decode()  # the model's rule, raised by the service
    assert not KPI.objects.exists()


def test_a_goal_of_another_plan_is_not_offered(signed_in_manager, plan, team):
    other = GoalFactory(owner_team=team)
    response = signed_in_manager.post(
        reverse("plans:manage_item_create", args=[plan.slug, "milestone"]),
        {"goal": other.pk, "title": "Sneaky", "due_date": "2025-09-30", "weight": "1"},
    )
    assert response.status_code == 400
    assert not Milestone.objects.exists()


def test_edit_records_history_and_bumps_the_version(signed_in_manager, plan, manager):
    kpi = KPIFactory(goal__focus_area__plan=plan, target_value=80.0)
    url = reverse("plans:manage_item_edit", args=["kpi", kpi.pk])
    form = signed_in_manager.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["target_value"] = "90"
    response = signed_in_manager.post(url, data)
    assert response.status_code == 302
    kpi.refresh_from_db()
    assert (kpi.target_value, kpi.version) == (90.0, 2)
    change = DefinitionChange.objects.get(item_type=DefinitionItemType.KPI, item_id=kpi.pk, field="target_value")
    assert (change.old_value, change.new_value, change.changed_by) == (80.0, 90.0, manager)


def test_stale_edit_is_refused_and_nothing_changes(signed_in_manager, plan):
    goal = GoalFactory(focus_area__plan=plan, title="Old title")
    url = reverse("plans:manage_item_edit", args=["goal", goal.pk])
    form = signed_in_manager.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    # Someone else saves meanwhile.
    from plans import services

    services.goal_update(goal=goal, data={"title": "Their title"}, expected_version=1)
    data["title"] = "My title"
    response = signed_in_manager.post(url, data)
    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    goal.refresh_from_db()
    assert (goal.title, goal.version) == ("Their title", 2)
    # The form now carries the newer version: saving again is a deliberate overwrite.
    assert response.context["form"].data["version"] == "2"


def test_focus_area_and_plan_edits_are_version_checked(signed_in_manager, plan):
    area = FocusAreaFactory(plan=plan, name="A")
    url = reverse("plans:manage_item_edit", args=["focus-area", area.pk])
    fields = {"code": area.code, "name": "B", "order": "0", "weight": "1"}
    response = signed_in_manager.post(url, {"version": "7", **fields})
    assert response.status_code == 400
    area.refresh_from_db()
    assert area.name == "A"
    response = signed_in_manager.post(url, {"version": "1", **fields})
    assert response.status_code == 302
    area.refresh_from_db()
    assert (area.name, area.version) == ("B", 2)


def test_delete_goes_through_the_service_with_tombstones(signed_in_manager, plan):
    milestone = MilestoneFactory(goal__focus_area__plan=plan)
    url = reverse("plans:manage_item_delete", args=["milestone", milestone.pk])
    assert signed_in_manager.get(url).status_code == 200
    assert signed_in_manager.post(url, {"version": "5"}).status_code == 409  # stale: kept
    assert Milestone.objects.filter(pk=milestone.pk).exists()
    assert signed_in_manager.post(url, {"version": "1"}).status_code == 302
    assert not Milestone.objects.filter(pk=milestone.pk).exists()
    assert DefinitionChange.objects.filter(item_type=DefinitionItemType.MILESTONE, action="deleted").exists()


def test_only_a_draft_plan_is_deleted_here(signed_in_manager, plan):
    url = reverse("plans:manage_item_delete", args=["plan", plan.pk])
    assert signed_in_manager.post(url).status_code == 403
    draft = PlanFactory(state=PlanState.DRAFT)
    assert signed_in_manager.post(reverse("plans:manage_item_delete", args=["plan", draft.pk])).status_code == 302
    assert not Plan.objects.filter(pk=draft.pk).exists()
