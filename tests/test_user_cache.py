"""The user cache (plans.user_cache) and cached sessions (plans.sessions): a warm page reads no row for its viewer,
and every change of the viewer (teams, role, units, deactivation, password) shows on the very next request."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import services
from plans.models import KPI
from plans.permissions import MANAGER
from tests.factories import UserFactory
from tests.test_dashboard_views import build_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    return build_plan(goals=2)


@pytest.fixture
def kpi(plan):
    return KPI.objects.filter(plan=plan).order_by("code").first()


def kpi_url(kpi):
    return reverse("plans:dashboard_kpi", args=[kpi.plan.slug, kpi.code])


def record_link(kpi):
    return reverse("plans:measurement_create", args=[kpi.pk])


def page(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, len(queries.captured_queries)


def text(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


@pytest.fixture
def member(client, kpi):
    user = UserFactory(username="member", role="staff", teams=[kpi.owner_team])
    client.force_login(user)
    return user


def test_a_staff_members_warm_pages_read_no_row(client, member, kpi, plan):
    urls = [
        kpi_url(kpi),
        reverse("plans:my_work"),
        reverse("plans:dashboard", args=[plan.slug]),
        reverse("plans:dashboard_goal", args=[plan.slug, kpi.goal.code]),
    ]
    for url in urls:
        page(client, url)
        response, queries = page(client, url)
        assert response.status_code == 200, url
        assert queries == 0, url


def test_a_removal_from_the_team_shows_on_the_next_request(client, member, kpi):
    assert record_link(kpi) in text(client, kpi_url(kpi))
    assert kpi.code in text(client, reverse("plans:my_work"))

    services.team_update(team=kpi.owner_team, data={}, members=[])

    assert record_link(kpi) not in text(client, kpi_url(kpi))
    assert kpi.code not in text(client, reverse("plans:my_work"))


@pytest.mark.parametrize("side", ["team", "user"])
def test_a_membership_written_from_either_side_shows_on_the_next_request(client, member, kpi, side):
    text(client, kpi_url(kpi))
    if side == "team":
        kpi.owner_team.members.remove(member)
    else:
        member.teams.clear()
    assert record_link(kpi) not in text(client, kpi_url(kpi))

    if side == "team":
        kpi.owner_team.members.add(member)
    else:
        member.teams.add(kpi.owner_team)
    assert record_link(kpi) in text(client, kpi_url(kpi))


def test_a_team_cleared_of_members_shows_on_the_next_request(client, member, kpi):
    text(client, reverse("plans:my_work"))
    kpi.owner_team.members.clear()

    assert kpi.code not in text(client, reverse("plans:my_work"))


def test_a_lost_manager_role_shows_on_the_next_request(client, kpi):
    manager = UserFactory(username="boss", role=MANAGER)
    client.force_login(manager)
    assert record_link(kpi) in text(client, kpi_url(kpi))

    Group.objects.get(name=MANAGER).user_set.remove(manager)

    assert record_link(kpi) not in text(client, kpi_url(kpi))


def test_a_deactivated_user_is_signed_out_on_the_next_request(client, member):
    assert client.get(reverse("plans:my_work")).status_code == 200

    member.is_active = False
    member.save()

    response = client.get(reverse("plans:my_work"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_new_password_signs_out_the_other_sessions_on_the_next_request(client, member):
    assert client.get(reverse("plans:my_work")).status_code == 200

    member.set_password("another-pass-456")
    member.save()

    assert client.get(reverse("plans:my_work")).status_code == 302


def test_a_flushed_cache_keeps_the_session(client, member, kpi):
    text(client, reverse("plans:my_work"))
    cache.clear()

    response, queries = page(client, reverse("plans:my_work"))
    assert response.status_code == 200
    assert kpi.code in response.content.decode()
    assert queries > 0  # the session and the user were read again from the database
