"""A write may only create, move or delete items of teams the writer may write, cascades included."""

from plans.models import KPI, Goal, Milestone
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, UserFactory, api_client


def test_a_team_token_cannot_delete_its_goal_when_it_holds_another_teams_items(
    team_manager, team_a_goal_with_team_b_items
):
    goal = team_a_goal_with_team_b_items
    assert team_manager.delete(f"/api/v1/goals/{goal.pk}/").status_code == 403
    assert Goal.objects.filter(pk=goal.pk).exists()
    assert (KPI.objects.count(), Milestone.objects.count()) == (1, 1)


def test_a_team_token_deletes_its_goal_when_it_holds_only_its_own_items(team_manager, team):
    goal = GoalFactory(owner_team=team)
    KPIFactory(goal=goal)
    assert team_manager.delete(f"/api/v1/goals/{goal.pk}/").status_code == 204
    assert not KPI.objects.exists()


def kpi_body(goal, team, code="MINE") -> dict:
    """A KPI of ``team`` in ``goal``."""
    return {
        "goal": goal.pk,
        "owner_team": team.pk,
        "code": code,
        "name": "Ours in theirs",
        "unit": "count",
        "baseline_value": 1,
        "baseline_date": "2024-12-31",
        "target_value": 2,
        "target_date": "2025-12-31",
        "frequency": "annual",
    }


def test_a_team_token_cannot_create_its_kpi_under_another_teams_goal(team_manager, team, other_team):
    goal = GoalFactory(owner_team=other_team)
    assert team_manager.post("/api/v1/kpis/", kpi_body(goal, team), format="json").status_code == 403
    assert not KPI.objects.exists()


def test_a_team_token_cannot_move_its_milestone_into_another_teams_goal(team_manager, team, other_team):
    milestone = MilestoneFactory(goal=GoalFactory(owner_team=team), owner_team=team)
    theirs = GoalFactory(owner_team=other_team, focus_area=milestone.goal.focus_area)
    response = team_manager.patch(f"/api/v1/milestones/{milestone.pk}/", {"goal": theirs.pk}, format="json")
    assert response.status_code == 403
    assert Milestone.objects.get(pk=milestone.pk).goal_id == milestone.goal_id


def test_a_staff_session_cannot_delete_a_goal_holding_another_teams_items(db, team, team_a_goal_with_team_b_items):
    """Staff may not delete goals at all (definitions are for managers); the refusal holds either way."""
    client = api_client()
    client.force_login(UserFactory(username="staff-x", role="staff", teams=[team]))
    assert client.delete(f"/api/v1/goals/{team_a_goal_with_team_b_items.pk}/").status_code == 403
    assert Goal.objects.filter(pk=team_a_goal_with_team_b_items.pk).exists()


def test_a_manager_deletes_a_goal_with_every_teams_items(db, manager, team_a_goal_with_team_b_items):
    client = api_client()
    client.force_login(manager)
    assert client.delete(f"/api/v1/goals/{team_a_goal_with_team_b_items.pk}/").status_code == 204
    assert not KPI.objects.exists() and not Milestone.objects.exists()
