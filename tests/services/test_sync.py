"""Tombstones: every resource the API lists leaves one when deleted, and the deletions feed returns it."""

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError

from plans import services
from plans.models import Team, Tombstone
from tests.factories import (
    FocusAreaFactory,
    GoalFactory,
    KPIFactory,
    MilestoneFactory,
    PlanFactory,
    TeamFactory,
    UserFactory,
    api_client,
    api_token,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()


def feed() -> set[tuple[str, int]]:
    _, key = api_token(scope="read")
    response = api_client(key).get("/api/v1/deletions/", {"page_size": 1000})
    assert response.status_code == 200
    return {(row["resource"], row["item_id"]) for row in response.json()["results"]}


def test_deleting_a_plan_leaves_tombstones_for_it_and_everything_in_it():
    kpi = KPIFactory()
    milestone = MilestoneFactory(goal=kpi.goal)
    plan_id, area_id, goal_id = kpi.plan_id, kpi.goal.focus_area_id, kpi.goal_id
    services.plan_delete(plan=kpi.plan, deleted_by=UserFactory())
    assert {
        ("plans", plan_id),
        ("focus-areas", area_id),
        ("goals", goal_id),
        ("kpis", kpi.pk),
        ("milestones", milestone.pk),
    } <= feed()


def test_plan_tombstone_carries_the_plan_id():
    plan = PlanFactory()
    plan_id = plan.pk
    services.plan_delete(plan=plan)
    assert Tombstone.objects.get(resource="plans").plan_id == plan_id


def test_deleting_a_focus_area_leaves_tombstones_for_it_and_its_goals():
    goal = GoalFactory()
    services.focus_area_delete(focus_area=goal.focus_area)
    assert {("focus-areas", goal.focus_area_id), ("goals", goal.pk)} <= feed()


def test_deleting_a_team_leaves_a_tombstone():
    team = TeamFactory()
    services.team_delete(team=team)
    assert not Team.objects.filter(pk=team.pk).exists()
    assert ("teams", team.pk) in feed()


def test_a_team_that_owns_items_is_not_deleted():
    goal = GoalFactory()
    with pytest.raises(ValidationError) as error:
        services.team_delete(team=goal.owner_team)
    assert error.value.code == "team_in_use"
    assert Team.objects.filter(pk=goal.owner_team_id).exists()
    assert not Tombstone.objects.exists()


def test_a_token_delete_records_the_token():
    token, _ = api_token(scope="write")
    area = FocusAreaFactory()
    services.focus_area_delete(focus_area=area, deleted_by=token)
    tombstone = Tombstone.objects.get(resource="focus-areas")
    assert (tombstone.deleted_by, tombstone.deleted_by_token) == (None, token)
