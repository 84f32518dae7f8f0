"""Codes are slugs (letters, digits, dots, hyphens, underscores) on every channel, and no stored code breaks a URL."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from plans import services
from plans.models import KPI, FocusArea, Goal, Plan
from tests.factories import FocusAreaFactory, GoalFactory, KPIFactory, UserFactory
from tests.test_write_rules import plan_file

BAD_CODES = ["BG/1", "K 1", "A\x00B", "../x", "代码"]


@pytest.mark.parametrize("code", BAD_CODES, ids=repr)
def test_the_api_refuses_a_goal_code_that_is_not_a_slug_and_changes_nothing(writer, code):
    goal = GoalFactory(code="G-1")
    response = writer.patch(f"/api/v1/goals/{goal.pk}/", {"code": code}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()
    goal.refresh_from_db()
    assert (goal.code, goal.version) == ("G-1", 1)


def test_the_api_refuses_a_kpi_created_with_a_slash_in_its_code(writer, team):
    goal = GoalFactory(owner_team=team)
    body = {
        "goal": goal.pk,
        "code": "K/1",
        "name": "Share",
        "unit": "%",
        "baseline_value": 60,
        "baseline_date": "2024-12-31",
        "target_value": 80,
        "target_date": "2025-12-31",
        "frequency": "annual",
    }
    response = writer.post("/api/v1/kpis/", body, format="json")
    assert response.status_code == 400
    assert "letters, digits" in str(response.json()["code"])
    assert not KPI.objects.exists()


def test_the_admin_refuses_a_focus_area_code_with_a_slash(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    plan = FocusAreaFactory().plan
    before = FocusArea.objects.count()
    response = client.post(
        reverse("admin:plans_focusarea_add"), {"plan": plan.pk, "code": "A/B", "name": "Area", "weight": "1"}
    )
    assert response.status_code == 200
    assert "code" in response.context["adminform"].form.errors
    assert FocusArea.objects.count() == before


def test_the_import_refuses_a_goal_code_with_a_space_and_writes_nothing(db):
    data = plan_file()
    data["focus_areas"][0]["goals"][0]["code"] = "G 1"
    with pytest.raises(ValidationError) as refused:
        services.plan_import(data=data)
    assert "code" in str(refused.value)
    assert not Plan.objects.exists() and not Goal.objects.exists()


def test_the_service_refuses_a_code_with_a_control_character(db):
    goal = GoalFactory(code="G-1")
    with pytest.raises(ValidationError):
        services.goal_update(goal=goal, data={"code": "G\x071"})
    goal.refresh_from_db()
    assert goal.code == "G-1"


def test_pages_answer_for_a_code_stored_before_the_rule(client, manager):
    """A row written before codes were checked (or by hand in the database) still has working pages."""
    kpi = KPIFactory()
    Goal.objects.filter(pk=kpi.goal_id).update(code="BG/1")
    KPI.objects.filter(pk=kpi.pk).update(code="K/1")
    FocusArea.objects.filter(pk=kpi.goal.focus_area_id).update(code="FA/1")
    client.force_login(manager)
    slug = kpi.plan.slug
    for url in (
        reverse("plans:dashboard", kwargs={"slug": slug}),
        reverse("plans:dashboard_focus_area", kwargs={"slug": slug, "code": "FA/1"}),
        reverse("plans:dashboard_goal", kwargs={"slug": slug, "code": "BG/1"}),
        reverse("plans:dashboard_kpi", kwargs={"slug": slug, "code": "K/1"}),
    ):
        assert client.get(url).status_code == 200, url
