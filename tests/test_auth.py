"""Sign-in (plans/views/accounts.py): the page, where staff land, and the throttle on both password forms
(/accounts/login/ and /admin/login/), on the real cache (LocMem, or Redis with REDIS_URL), failing open."""

import pytest
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache
from django.test import Client
from django.urls import reverse

from plans import signin_throttle
from tests.factories import UserFactory

PASSWORD = "secret-pass-123"
USERNAME = "throttle-me"
HOME = "127.0.0.1"
FORMS = ("login", "admin:login")


class Clock:
    """A settable clock for the throttle's locks; it starts at the real time."""

    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clean_throttle():
    cache.clear()
    signin_throttle.breaker.reset()
    yield
    cache.clear()
    signin_throttle.breaker.reset()


@pytest.fixture
def clock(monkeypatch):
    clock = Clock(signin_throttle.clock())
    monkeypatch.setattr(signin_throttle, "clock", clock)
    return clock


@pytest.fixture
def attacker():
    """A second browser, without the real user's cookies."""
    return Client()


@pytest.fixture
def user(db, team):
    return UserFactory(username=USERNAME, role="staff", teams=[team])


@pytest.fixture
def admin_user(db):
    return UserFactory(username=USERNAME, role="manager", is_staff=True, is_superuser=True)


def attempt(client, password, ip=HOME, username=USERNAME, form="login"):
    return client.post(reverse(form), {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client, times, ip=HOME, form="login", username=USERNAME):
    for _ in range(times):
        response = attempt(client, "wrong-password", ip, username=username, form=form)
        assert response.status_code == 200
        assert "Too many failed sign-in attempts" not in response.content.decode()


def sign_out(client):
    """Through the sign-out page: the test client's logout() also drops every cookie, as a browser would not."""
    client.post(reverse("logout"))
    assert "_auth_user_id" not in client.session


def signed_in(client, response) -> bool:
    return response.status_code == 302 and "_auth_user_id" in client.session


def throttled(response) -> bool:
    return response.status_code == 200 and "Too many failed sign-in attempts" in response.content.decode()


def spread_failures(client, clock, count, username=USERNAME):
    """``count`` failures for ``username``, each from its own address, waiting out any delay between them."""
    for n in range(count):
        clock.advance(signin_throttle.USERNAME_DELAY_CAP_SECONDS)
        fail(client, 1, ip=f"198.51.100.{n + 1}", username=username)


# The page


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


# Username + address


@pytest.mark.django_db
def test_five_failures_lock_the_username_even_with_the_right_password(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    response = attempt(client, PASSWORD)
    assert throttled(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_refusal_says_how_many_minutes_to_wait(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    page = attempt(client, PASSWORD).content.decode()
    assert "Too many failed sign-in attempts for this username. Please try again in 5 minutes." in page


@pytest.mark.django_db
def test_four_failures_do_not_lock(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_lock_is_per_address(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT, ip=HOME)
    assert attempt(client, PASSWORD, ip="10.0.0.9").status_code == 302


@pytest.mark.django_db
def test_lock_ignores_the_case_of_the_username(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT)
    assert throttled(attempt(client, PASSWORD, username=USERNAME.upper()))


@pytest.mark.django_db
def test_success_resets_the_count(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302
    client.logout()
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    assert attempt(client, PASSWORD).status_code == 302


@pytest.mark.django_db
def test_a_post_without_a_password_does_not_reset_the_count(client, user):
    fail(client, signin_throttle.FAILURE_LIMIT - 1)
    attempt(client, "")
    fail(client, 1)
    assert throttled(attempt(client, PASSWORD))


@pytest.mark.django_db
def test_the_lock_lifts_when_its_time_is_up(client, user, clock):
    fail(client, signin_throttle.FAILURE_LIMIT)
    clock.advance(signin_throttle.LOCKOUT_SECONDS - 1)
    assert throttled(attempt(client, PASSWORD))
    clock.advance(1)
    assert attempt(client, PASSWORD).status_code == 302


# The admin's login


@pytest.mark.django_db
def test_admin_login_refuses_the_right_password_after_five_failures(client, admin_user):
    fail(client, signin_throttle.FAILURE_LIMIT, form="admin:login")
    response = attempt(client, PASSWORD, form="admin:login")
    assert throttled(response)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_admin_login_lock_lifts_when_its_time_is_up(client, admin_user, clock):
    fail(client, signin_throttle.FAILURE_LIMIT, form="admin:login")
    clock.advance(signin_throttle.LOCKOUT_SECONDS)
    assert signed_in(client, attempt(client, PASSWORD, form="admin:login"))


@pytest.mark.django_db
def test_a_lock_from_the_sign_in_page_holds_on_the_admin_login(client, admin_user):
    fail(client, signin_throttle.FAILURE_LIMIT, form="login")
    assert throttled(attempt(client, PASSWORD, form="admin:login"))


@pytest.mark.django_db
def test_a_lock_from_the_admin_login_holds_on_the_sign_in_page(client, admin_user):
    fail(client, signin_throttle.FAILURE_LIMIT, form="admin:login")
    assert throttled(attempt(client, PASSWORD, form="login"))


@pytest.mark.django_db
def test_admin_login_still_refuses_non_staff_with_the_right_password(client, user):
    response = attempt(client, PASSWORD, form="admin:login")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


# Address: one address spraying many usernames


@pytest.mark.django_db
def test_one_address_spraying_forty_usernames_is_throttled(client, user):
    refused = [
        throttled(attempt(client, "wrong-password", username=f"someone-{n}", form=FORMS[n % 2])) for n in range(40)
    ]
    assert refused == [False] * signin_throttle.ADDRESS_LIMIT + [True] * (40 - signin_throttle.ADDRESS_LIMIT)


@pytest.mark.django_db
def test_a_spraying_address_is_told_it_is_the_address(client, user):
    for n in range(signin_throttle.ADDRESS_LIMIT):
        attempt(client, "wrong-password", username=f"someone-{n}")
    page = attempt(client, PASSWORD).content.decode()
    assert "Too many failed sign-in attempts from your network address. Please try again in 15 minutes." in page


@pytest.mark.django_db
def test_spraying_from_one_address_does_not_throttle_another(client, user):
    for n in range(signin_throttle.ADDRESS_LIMIT):
        attempt(client, "wrong-password", username=f"someone-{n}")
    assert attempt(client, PASSWORD, ip="10.0.0.9").status_code == 302


# Username from anywhere: a progressive delay, not a lock


@pytest.mark.django_db
def test_failures_from_many_addresses_make_the_next_attempt_wait(client, user, clock):
    spread_failures(client, clock, signin_throttle.USERNAME_FREE_FAILURES)
    assert throttled(attempt(client, "wrong-password", ip="203.0.113.7"))


@pytest.mark.django_db
def test_fewer_failures_from_many_addresses_do_not_slow_the_username(client, user, clock):
    spread_failures(client, clock, signin_throttle.USERNAME_FREE_FAILURES - 1)
    assert attempt(client, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_the_wait_grows_with_each_failure_up_to_the_cap(client, user, clock):
    waits = []
    for n in range(signin_throttle.USERNAME_FREE_FAILURES + 8):
        fail(client, 1, ip=f"198.51.100.{n + 1}")
        refusal = signin_throttle.sign_in_refusal(USERNAME, "203.0.113.7")
        waits.append(round(refusal.seconds) if refusal else 0)
        clock.advance(waits[-1])
    assert waits[signin_throttle.USERNAME_FREE_FAILURES - 1 :] == [5, 10, 20, 40, 80, 160, 180, 180, 180]


@pytest.mark.django_db
def test_the_real_user_from_a_fresh_address_gets_in_after_at_most_the_capped_delay(client, user, clock):
    spread_failures(client, clock, signin_throttle.USERNAME_FREE_FAILURES + 10)
    assert throttled(attempt(client, PASSWORD, ip="203.0.113.7"))
    clock.advance(signin_throttle.USERNAME_DELAY_CAP_SECONDS)
    assert attempt(client, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_refused_attempts_do_not_lengthen_the_wait(client, user, clock):
    spread_failures(client, clock, signin_throttle.USERNAME_FREE_FAILURES + 10)
    for n in range(20):
        assert throttled(attempt(client, "wrong-password", ip=f"192.0.2.{n + 1}"))
    clock.advance(signin_throttle.USERNAME_DELAY_CAP_SECONDS)
    assert attempt(client, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_the_username_delay_holds_on_the_admin_login_too(client, admin_user, clock):
    spread_failures(client, clock, signin_throttle.USERNAME_FREE_FAILURES)
    assert throttled(attempt(client, PASSWORD, ip="203.0.113.7", form="admin:login"))


# Known devices: a browser that signed in before is not refused for anyone else's failures


@pytest.fixture
def known_browser(client, user):
    """The real user's browser, after signing in once and out again."""
    assert attempt(client, PASSWORD).status_code == 302
    sign_out(client)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("form", FORMS)
def test_signing_in_makes_the_browser_a_known_device(client, admin_user, form):
    attempt(client, PASSWORD, form=form)
    assert signin_throttle.DEVICE_COOKIE in client.cookies


@pytest.mark.django_db
def test_a_known_browser_is_not_locked_by_failures_from_its_own_address(known_browser, attacker):
    fail(attacker, signin_throttle.FAILURE_LIMIT, ip=HOME)
    assert attempt(known_browser, PASSWORD, ip=HOME).status_code == 302


@pytest.mark.django_db
def test_a_known_browser_is_not_locked_by_an_address_spraying_usernames(known_browser, attacker):
    for n in range(signin_throttle.ADDRESS_LIMIT):
        attempt(attacker, "wrong-password", username=f"someone-{n}", ip=HOME)
    assert attempt(known_browser, PASSWORD, ip=HOME).status_code == 302


@pytest.mark.django_db
def test_a_known_browser_is_not_slowed_by_failures_from_many_addresses(known_browser, attacker, clock):
    spread_failures(attacker, clock, signin_throttle.USERNAME_FREE_FAILURES + 10)
    assert attempt(known_browser, PASSWORD, ip="203.0.113.7").status_code == 302


@pytest.mark.django_db
def test_five_failures_from_a_known_browser_end_its_exemption(known_browser):
    fail(known_browser, signin_throttle.DEVICE_FAILURE_LIMIT)
    assert throttled(attempt(known_browser, PASSWORD))


@pytest.mark.django_db
def test_a_forged_device_cookie_is_not_trusted(client, user):
    client.cookies[signin_throttle.DEVICE_COOKIE] = "forged"
    fail(client, signin_throttle.FAILURE_LIMIT)
    assert throttled(attempt(client, PASSWORD))


@pytest.mark.django_db
def test_a_device_cookie_for_another_username_is_not_trusted(client, user, manager):
    assert attempt(client, PASSWORD, username=manager.username).status_code == 302
    sign_out(client)
    assert signin_throttle.DEVICE_COOKIE in client.cookies
    fail(client, signin_throttle.FAILURE_LIMIT)
    assert throttled(attempt(client, PASSWORD))


# Redis down


@pytest.fixture
def dead_cache(monkeypatch):
    """The throttle's cache is a Redis on a port nobody listens on: every call fails to connect."""
    monkeypatch.setattr(
        signin_throttle, "cache", RedisCache("redis://127.0.0.1:1/0", {"OPTIONS": {"socket_connect_timeout": 0.2}})
    )


@pytest.mark.django_db
@pytest.mark.parametrize("form", FORMS)
def test_cache_outage_fails_open(client, admin_user, dead_cache, form):
    fail(client, signin_throttle.FAILURE_LIMIT + 1, form=form)
    assert signed_in(client, attempt(client, PASSWORD, form=form))
