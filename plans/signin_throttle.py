"""Sign-in throttle: after a few failed attempts for one username from one address, refuse for a while.

Failures are counted in the Django cache (Redis in production). When the cache is unreachable the
throttle fails open: a Redis outage must not lock every user out, and Django's password hashing
still slows guessing down.
"""

import hashlib

from django.conf import settings
from django.core.cache import cache

from .failopen import fail_open

FAILURE_LIMIT = 5
LOCKOUT_SECONDS = 5 * 60
KEY = "auth:failed-sign-ins:{digest}"


def _key(username: str, ip: str) -> str:
    # Hashed: usernames are user input and may hold characters a cache key must not.
    digest = hashlib.sha256(f"{username.strip().lower()}\n{ip}".encode()).hexdigest()
    return KEY.format(digest=digest)


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind ``TRACKER_NUM_PROXIES`` trusted proxies the address
    the outermost of them saw. The rest of X-Forwarded-For is client-controlled and never trusted, or a
    client could forge a fresh budget per request."""
    if request is None:
        return "unknown"
    proxies = settings.TRACKER_NUM_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [a.strip() for a in forwarded.split(",") if a.strip()]
        if addresses:
            return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR") or "unknown"


def sign_in_locked(username: str, ip: str) -> bool:
    return fail_open(lambda: (cache.get(_key(username, ip)) or 0) >= FAILURE_LIMIT, False, "sign-in throttling is off")


def _count_failure(key: str) -> None:
    if cache.add(key, 1, timeout=LOCKOUT_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(key, 1, timeout=LOCKOUT_SECONDS)


def sign_in_failed(username: str, ip: str) -> None:
    """Count a failure; the window starts at the first failure and is not extended by later ones."""
    fail_open(lambda: _count_failure(_key(username, ip)), None, "a failed sign-in was not counted")


def sign_in_reset(username: str, ip: str) -> None:
    fail_open(lambda: cache.delete(_key(username, ip)), None, "could not reset the failed sign-in count")
