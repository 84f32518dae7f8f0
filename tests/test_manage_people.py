"""Users and team membership managed by managers (plans/services/users.py, plans/views/manage_people.py)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse

from plans import services
from plans.choices import DefinitionItemType
from plans.models import DefinitionChange
from plans.permissions import is_manager
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_user_create_gives_a_one_time_password_that_signs_in(client, team):
    user, password = services.user_create(username="li.wei", role="staff", first_name="Wei", teams=[team])
    assert len(password) == 16 and user.check_password(password)
    assert not is_manager(user) and list(user.teams.all()) == [team]
    assert client.login(username="li.wei", password=password)
    _, other = services.user_create(username="wang", role="manager")
    assert other != password


def test_user_create_refuses_a_taken_username_and_a_bad_role(manager):
    with pytest.raises(ValidationError) as taken:
        services.user_create(username="MGR", role="staff")
    assert "username" in taken.value.error_dict
    with pytest.raises(ValidationError):
        services.user_create(username="new", role="admin")
    assert not get_user_model().objects.filter(username="new").exists()


def test_manager_creates_a_user_and_sees_the_password_once(client, manager, team):
    client.force_login(manager)
    response = client.post(
        reverse("plans:manage_user_create"),
        {"username": "zhang.san", "first_name": "San", "role": "staff", "teams": [team.pk]},
    )
    assert response.status_code == 200
    password = response.context["password"]
    assert password in response.content.decode()
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    user = get_user_model().objects.get(username="zhang.san")
    assert user.check_password(password) and team in user.teams.all()
    listing = client.get(reverse("plans:manage_users")).content.decode()
    assert "zhang.san" in listing and password not in listing


def test_bad_username_is_refused_on_its_field(client, manager):
    client.force_login(manager)
    response = client.post(reverse("plans:manage_user_create"), {"username": "has space", "role": "staff"})
    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="has space").exists()


def test_deactivate_and_reactivate(client, manager, staff):
    client.force_login(manager)
    client.post(reverse("plans:manage_user_active", args=[staff.pk]), {"active": "0"})
    staff.refresh_from_db()
    assert not staff.is_active
    assert not client.login(username=staff.username, password="secret-pass-123")
    client.force_login(manager)
    client.post(reverse("plans:manage_user_active", args=[staff.pk]), {"active": "1"})
    staff.refresh_from_db()
    assert staff.is_active


def test_a_manager_cannot_deactivate_themselves(client, manager):
    client.force_login(manager)
    client.post(reverse("plans:manage_user_active", args=[manager.pk]), {"active": "0"})
    manager.refresh_from_db()
    assert manager.is_active


def test_staff_cannot_manage_users(client, staff, other_staff):
    client.force_login(staff)
    assert client.post(reverse("plans:manage_user_active", args=[other_staff.pk]), {"active": "0"}).status_code == 403
    assert client.post(reverse("plans:manage_user_create"), {"username": "x", "role": "manager"}).status_code == 403
    other_staff.refresh_from_db()
    assert other_staff.is_active and not get_user_model().objects.filter(username="x").exists()


def test_members_added_and_removed_through_team_update(client, manager, staff, team):
    newcomer = UserFactory(username="newcomer")
    client.force_login(manager)
    url = reverse("plans:manage_team", args=[team.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"version": "1", "user": newcomer.pk}).status_code == 302
    team.refresh_from_db()
    assert set(team.members.all()) == {staff, newcomer} and team.version == 2
    # A stale form (version 1) changes nothing.
    client.post(url, {"version": "1", "remove": staff.pk})
    assert set(team.members.all()) == {staff, newcomer}
    client.post(url, {"version": "2", "remove": staff.pk})
    assert set(team.members.all()) == {newcomer}
    changes = DefinitionChange.objects.filter(item_type=DefinitionItemType.TEAM, item_id=team.pk, field="members")
    assert changes.count() == 2 and changes.first().changed_by == manager


def test_team_list_counts_members(client, manager, staff, team):
    TeamFactory(name="Empty team")
    client.force_login(manager)
    page = client.get(reverse("plans:manage_teams")).content.decode()
    assert "Team A" in page and "Empty team" in page
