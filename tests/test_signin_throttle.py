"""The sign-in throttle (plans/signin_throttle.py): which address a client has.

Its lock is tested through the sign-in page, in test_auth.py.
"""

from plans.signin_throttle import client_ip


def test_client_address_ignores_forwarded_for_without_trusted_proxies(rf, settings):
    settings.TRACKER_NUM_PROXIES = 0
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "10.0.0.1"


def test_client_address_behind_one_trusted_proxy_is_the_one_it_saw(rf, settings):
    settings.TRACKER_NUM_PROXIES = 1
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9", REMOTE_ADDR="10.0.0.1")
    assert client_ip(request) == "203.0.113.9"
