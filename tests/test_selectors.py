import pytest

from plans import selectors
from tests.factories import GoalFactory, KPIFactory, MilestoneFactory, TeamFactory

pytestmark = pytest.mark.django_db


def test_owner_teams_of_a_plan_are_listed_once_each():
    goal = GoalFactory(owner_team=TeamFactory(name="Goal owners"))
    KPIFactory(goal=goal, owner_team=TeamFactory(name="KPI owners"))
    KPIFactory(goal=goal, owner_team=goal.owner_team)
    MilestoneFactory(goal=goal, owner_team=TeamFactory(name="Milestone owners"))
    GoalFactory(owner_team=TeamFactory(name="Another plan's team"))

    names = [team.name for team in selectors.plan_owner_team_list(plan_id=goal.plan_id)]

    assert names == ["Goal owners", "KPI owners", "Milestone owners"]
