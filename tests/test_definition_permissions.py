"""Staff record values and progress; changing a definition is for managers, on every channel.

Channels: the session API, the token API (``write`` records, ``manage`` also redefines) and the admin.
The web pages have no staff-facing definition edit: their two forms record a measurement and milestone
progress, which staff may still do.
"""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from plans.choices import MilestoneState
from plans.models import KPI, Goal, Measurement, Milestone, MilestoneUpdate
from plans.permissions import can_change_definition, definition_changes
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, UserFactory, api_client, api_token

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


@pytest.fixture
def kpi(team):
    return KPIFactory(goal=GoalFactory(owner_team=team), target_value=80.0)


@pytest.fixture
def milestone(kpi):
    return MilestoneFactory(goal=kpi.goal, percent_complete=20, state=MilestoneState.IN_PROGRESS)


@pytest.fixture
def staff_api(staff):
    client = api_client()
    client.force_login(staff)
    return client


@pytest.fixture
def manager_api(manager):
    client = api_client()
    client.force_login(manager)
    return client


def token_client(scope, team=None):
    _, key = api_token(scope=scope, team=team)
    return api_client(key)


def kpi_body(goal_id: int, code: str) -> dict:
    return {
        "goal": goal_id,
        "code": code,
        "name": "New",
        "unit": "u",
        "baseline_value": 1,
        "baseline_date": "2024-12-31",
        "target_value": 2,
        "target_date": "2025-12-31",
        "frequency": "annual",
    }


def target_of(kpi) -> float:
    return KPI.objects.get(pk=kpi.pk).target_value


# --- the rule -------------------------------------------------------------------------------------


def test_managers_may_change_definitions_and_staff_may_not(manager, staff, kpi):
    assert can_change_definition(manager, kpi)
    assert not can_change_definition(staff, kpi)


@pytest.mark.parametrize(("scope", "allowed"), [("read", False), ("write", False), ("manage", True)])
def test_only_a_manage_token_may_change_definitions(scope, allowed, kpi):
    assert can_change_definition(api_token(scope=scope)[0], kpi) is allowed


def test_a_team_manage_token_may_not_change_another_teams_definitions(other_team, kpi):
    assert not can_change_definition(api_token(scope="manage", team=other_team)[0], kpi)


def test_progress_fields_of_a_milestone_are_not_definition_changes(milestone):
    data = {"percent_complete": 90, "state": MilestoneState.IN_PROGRESS, "title": milestone.title}
    assert definition_changes(milestone, data) == []


def test_a_changed_due_date_is_a_definition_change(milestone):
    assert definition_changes(milestone, {"due_date": datetime.date(2026, 1, 31)}) == ["due_date"]


# --- session API ----------------------------------------------------------------------------------


def test_staff_cannot_change_a_kpi_target_through_the_session_api(staff_api, kpi):
    response = staff_api.patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90})
    assert response.status_code == 403
    assert "Only managers" in response.json()["detail"] and "target_value" in response.json()["detail"]
    assert target_of(kpi) == 80.0


@pytest.mark.parametrize(
    "change",
    [
        {"baseline_value": 1},
        {"weight": "2"},
        {"target_date": "2026-06-30"},
        {"direction": "decrease"},
        {"frequency": "monthly"},
        {"code": "NEW"},
        {"name": "Renamed"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_staff_cannot_change_any_part_of_a_kpi_definition(staff_api, kpi, change):
    assert staff_api.patch(f"/api/v1/kpis/{kpi.pk}/", change).status_code == 403
    assert KPI.objects.get(pk=kpi.pk).version == kpi.version


def test_staff_cannot_hand_their_kpi_to_another_team(staff_api, kpi, other_team, staff):
    other_team.members.add(staff)
    assert staff_api.patch(f"/api/v1/kpis/{kpi.pk}/", {"owner_team": other_team.pk}).status_code == 403
    assert KPI.objects.get(pk=kpi.pk).owner_team_id == kpi.owner_team_id


def test_staff_cannot_create_or_delete_kpis(staff_api, kpi):
    assert staff_api.post("/api/v1/kpis/", kpi_body(kpi.goal_id, "K-NEW")).status_code == 403
    assert staff_api.delete(f"/api/v1/kpis/{kpi.pk}/").status_code == 403
    assert list(KPI.objects.values_list("pk", flat=True)) == [kpi.pk]


def test_staff_cannot_change_a_goal(staff_api, kpi):
    assert staff_api.patch(f"/api/v1/goals/{kpi.goal_id}/", {"title": "Ours now"}).status_code == 403
    assert Goal.objects.get(pk=kpi.goal_id).title == kpi.goal.title


def test_staff_sending_a_kpi_back_unchanged_is_not_refused(staff_api, kpi):
    body = {name: value for name, value in staff_api.get(f"/api/v1/kpis/{kpi.pk}/").json().items()}
    assert staff_api.put(f"/api/v1/kpis/{kpi.pk}/", body).status_code == 200
    assert KPI.objects.get(pk=kpi.pk).version == kpi.version


def test_staff_may_still_record_a_measurement_through_the_session_api(staff_api, kpi):
    response = staff_api.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-31", "value": 65})
    assert response.status_code == 201
    assert Measurement.objects.get().value == 65


def test_staff_may_still_record_milestone_progress_through_the_session_api(staff_api, milestone):
    body = {"milestone": milestone.pk, "percent_complete": 50, "state": "in_progress"}
    assert staff_api.post("/api/v1/milestone-updates/", body).status_code == 201
    assert Milestone.objects.get(pk=milestone.pk).percent_complete == 50


def test_staff_may_patch_a_milestones_progress_but_not_its_due_date(staff_api, milestone):
    assert staff_api.patch(f"/api/v1/milestones/{milestone.pk}/", {"percent_complete": 60}).status_code == 200
    assert staff_api.patch(f"/api/v1/milestones/{milestone.pk}/", {"due_date": "2026-03-31"}).status_code == 403
    milestone.refresh_from_db()
    assert (milestone.percent_complete, milestone.due_date) == (60, datetime.date(2025, 12, 31))
    assert MilestoneUpdate.objects.get().percent_complete == 60


def test_a_manager_may_change_a_kpi_target_through_the_session_api(manager_api, kpi):
    assert manager_api.patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90}).status_code == 200
    assert target_of(kpi) == 90.0


# --- token API ------------------------------------------------------------------------------------


def test_a_team_token_cannot_change_its_kpis_target(team, kpi):
    response = token_client("write", team).patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90})
    assert response.status_code == 403
    assert "manage scope" in response.json()["detail"]
    assert target_of(kpi) == 80.0


def test_a_write_token_without_a_team_cannot_change_a_target_either(kpi):
    assert token_client("write").patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90}).status_code == 403
    assert target_of(kpi) == 80.0


def test_a_write_token_cannot_create_a_kpi_by_external_id(team, kpi):
    body = kpi_body(kpi.goal_id, "K-EXT")
    assert token_client("write", team).put("/api/v1/kpis/by-external-id/erp/K-EXT/", body).status_code == 403
    assert not KPI.objects.filter(external_id="K-EXT").exists()


def test_a_team_token_may_still_record_a_measurement_and_progress(team, kpi, milestone):
    client = token_client("write", team)
    assert client.post("/api/v1/measurements/", {"kpi": kpi.pk, "date": "2025-03-31", "value": 65}).status_code == 201
    body = {"milestone": milestone.pk, "percent_complete": 50, "state": "in_progress"}
    assert client.post("/api/v1/milestone-updates/", body).status_code == 201
    rows = {"measurements": [{"kpi": kpi.pk, "date": "2025-04-30", "value": 66}]}
    assert client.post("/api/v1/measurements/bulk/", rows).status_code == 200
    assert Measurement.objects.count() == 2


def test_a_manage_token_may_change_a_target(team, kpi):
    assert token_client("manage", team).patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90}).status_code == 200
    assert target_of(kpi) == 90.0


def test_a_team_manage_token_cannot_change_another_teams_target(other_team, kpi):
    assert token_client("manage", other_team).patch(f"/api/v1/kpis/{kpi.pk}/", {"target_value": 90}).status_code == 403
    assert target_of(kpi) == 80.0


# --- web and admin --------------------------------------------------------------------------------


def test_staff_may_still_record_a_measurement_on_the_web(client, staff, kpi):
    client.force_login(staff)
    url = reverse("plans:measurement_create", kwargs={"pk": kpi.pk})
    day = min(TODAY, kpi.target_date).isoformat()
    assert client.post(url, {"version": kpi.version, "date": day, "value": "65", "note": ""}).status_code == 302
    assert Measurement.objects.get().value == 65


def test_staff_may_still_record_milestone_progress_on_the_web(client, staff, milestone):
    client.force_login(staff)
    url = reverse("plans:milestone_update", kwargs={"pk": milestone.pk})
    body = {"version": milestone.version, "percent_complete": "50", "state": "in_progress", "note": ""}
    assert client.post(url, body).status_code == 302
    assert Milestone.objects.get(pk=milestone.pk).percent_complete == 50


def test_the_admin_is_closed_to_staff_without_admin_access(client, staff, kpi):
    client.force_login(staff)
    response = client.get(reverse("admin:plans_kpi_change", args=[kpi.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_staff_member_made_an_admin_user_still_cannot_change_a_target(client, team, kpi):
    user = UserFactory(username="staff-admin", role="staff", teams=[team], is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="plans"))
    client.force_login(user)
    response = client.post(reverse("admin:plans_kpi_change", args=[kpi.pk]), {"target_value": "90"})
    assert response.status_code == 403
    assert target_of(kpi) == 80.0
