"""The sign-in throttle (plans/signin_throttle.py): which address a client has, the delay schedule, refusals.

Its limits are tested through both sign-in forms, in test_auth.py.
"""

from plans.signin_throttle import (
    USERNAME_DELAY_CAP_SECONDS,
    USERNAME_FREE_FAILURES,
    Refusal,
    client_ip,
    username_delay,
)


def test_client_address_ignores_forwarded_for_without_trusted_proxies(rf, settings):
    settings.TRACKER_NUM_PROXIES = 0
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"


def test_client_address_behind_one_trusted_proxy_is_the_one_it_saw(rf, settings):
    settings.TRACKER_NUM_PROXIES = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "203.0.113.9"


def test_no_delay_before_the_free_failures_are_used_up():
    assert username_delay(USERNAME_FREE_FAILURES - 1) == 0


def test_the_delay_never_exceeds_the_cap():
    assert max(username_delay(n) for n in range(1000)) == USERNAME_DELAY_CAP_SECONDS


def test_a_refusal_rounds_up_to_whole_minutes_and_never_says_zero():
    assert [Refusal("pair", s).minutes for s in (0.5, 60, 61)] == [1, 1, 2]
