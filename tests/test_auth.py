"""Sign-in (plans/views/accounts.py): the page, where staff land, and the lock after repeated failures, failing open."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from plans import signin_throttle
from tests.factories import UserFactory

PASSWORD = "secret-pass-123"
USERNAME = "throttle-me"
IPS = ("127.0.0.1", "10.0.0.9")


@pytest.fixture(autouse=True)
def clean_counts():
    for ip in IPS:
        signin_throttle.sign_in_reset(USERNAME, ip)
    yield
    for ip in IPS:
        signin_throttle.sign_in_reset(USERNAME, ip)


@pytest.fixture
def user(db, team):
    return UserFactory(username=USERNAME, role="staff", teams=[team])


def attempt(client, password, ip="127.0.0.1", username=USERNAME):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, times, ip="127.0.0.1"):
    for _ in range(times):
        assert attempt(client, "wrong-password", ip).status_code == 200


@pytest.mark.django_db
def test_sign_in_page_is_the_only_page_for_anonymous_visitors(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("plans:my_work"))["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_staff_with_teams_land_on_my_work(client, user):
    response = attempt(client, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("plans:my_work")


@pytest.mark.django_db
def test_managers_land_on_the_plans(client, manager):
    response = attempt(client, PASSWORD, username=manager.username)
    assert response["Location"] == reverse("plans:home")


@pytest.mark.django_db
def test_wrong_password_shows_an_error_tied_to_the_form(client, user):
    response = attempt(client, "wrong-password")
    page = response.content.decode()
    assert 'id="error-summary"' in page and "Please enter a correct username and password" in page


@pytest.mark.django_db
def test_five_failures_lock_the_username_even_with_the_right_password(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    response = attempt(client, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_four_failures_do_not_lock(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lock_is_per_address(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT, ip=IPS[0])
    assert attempt(client, PASSWORD, ip=IPS[1]).status_code == 302


@pytest.mark.django_db
def test_lock_ignores_the_case_of_the_username(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    response = attempt(client, PASSWORD, username=USERNAME.upper())
    assert "Too many failed sign-in attempts" in response.content.decode()


@pytest.mark.django_db
def test_success_resets_the_count(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_the_lock_lifts_when_the_window_expires(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    cache.delete(signin_throttle._key(USERNAME, IPS[0]))  # what the cache timeout does after LOCKOUT_SECONDS
    assert attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_cache_outage_fails_open(client, user, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    for name in ("get", "add", "incr", "delete"):
        monkeypatch.setattr(signin_throttle.cache, name, down)
    fail(client, signin_throttle.FAILURE_LIMIT + 1)
    assert attempt(client, PASSWORD).status_code == 302
