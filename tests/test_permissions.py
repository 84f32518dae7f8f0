"""Roles and permission checks (plans/permissions.py): who may update an item, whose items a caller writes."""

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from plans import permissions
from plans.api.authentication import TokenUser
from tests.factories import KPIFactory, MilestoneFactory, UserFactory, api_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def kpi(team):
    return KPIFactory(goal__owner_team=team)


def test_staff_of_the_owning_team_can_update(staff, kpi):
    assert permissions.can_update(staff, kpi)
    assert permissions.can_update(staff, MilestoneFactory(goal=kpi.goal))


def test_staff_of_another_team_cannot_update(other_staff, kpi):
    assert not permissions.can_update(other_staff, kpi)
    with pytest.raises(PermissionDenied):
        permissions.ensure_can_update(other_staff, kpi)


def test_a_manager_can_update_every_teams_items(manager, kpi):
    assert permissions.is_manager(manager)
    assert permissions.can_update(manager, kpi)
    assert permissions.writable_team_ids(manager) is None


def test_a_superuser_counts_as_a_manager(kpi):
    admin = UserFactory(username="root", is_superuser=True)
    assert permissions.is_manager(admin)
    assert permissions.can_update(admin, kpi)


def test_an_anonymous_visitor_cannot_update(kpi):
    anonymous = AnonymousUser()
    assert not permissions.is_manager(anonymous)
    assert permissions.team_ids(anonymous) == set()
    assert not permissions.can_update(anonymous, kpi)
    with pytest.raises(PermissionDenied):
        permissions.ensure_can_update(anonymous, kpi)


def test_a_user_without_role_or_team_cannot_update(kpi):
    nobody = UserFactory(username="nobody")
    assert permissions.writable_team_ids(nobody) == set()
    assert not permissions.can_update(nobody, kpi)


def test_staff_write_the_teams_they_belong_to(staff, team, other_team):
    assert permissions.writable_team_ids(staff) == {team.pk}
    assert permissions.can_write_team(staff, team.pk)
    assert not permissions.can_write_team(staff, other_team.pk)
    assert not permissions.can_write_team(staff, None)


def test_a_team_token_writes_its_team_only(team, other_team):
    token, _ = api_token(scope="write", team=team)
    caller = TokenUser(token)
    assert permissions.writable_team_ids(caller) == {team.pk}
    assert permissions.can_write_team(caller, team.pk)
    assert not permissions.can_write_team(caller, other_team.pk)


def test_a_token_without_a_team_writes_every_team(other_team):
    token, _ = api_token(scope="write")
    assert permissions.writable_team_ids(TokenUser(token)) is None
    assert permissions.can_write_team(TokenUser(token), other_team.pk)


def test_the_teams_are_read_once_per_user_object(staff, team, django_assert_num_queries):
    with django_assert_num_queries(2):  # the manager group, then the teams
        permissions.writable_team_ids(staff)
    with django_assert_num_queries(0):
        assert permissions.can_write_team(staff, team.pk)
