"""Sign-in throttle for every password form (``/accounts/login/`` and ``/admin/login/``): three limits.

1. Username + address: after ``FAILURE_LIMIT`` (5) failures within ``LOCKOUT_SECONDS`` (5 minutes), that
   username is refused from that address for ``LOCKOUT_SECONDS``. Catches one client guessing one password.
2. Address: after ``ADDRESS_LIMIT`` (30) failures across all usernames within ``ADDRESS_WINDOW_SECONDS``
   (15 minutes), that address is refused for every username for ``ADDRESS_WINDOW_SECONDS``. Catches one
   client spraying one guess over many usernames. Deployments behind a proxy must set
   ``TRACKER_NUM_PROXIES`` (see ``client_ip``), or every client shares the proxy's budget.
3. Username from anywhere: from the 10th failure (``USERNAME_FREE_FAILURES``) on, each failure makes the
   next attempt for that username wait: ``USERNAME_DELAY_SECONDS`` (5 s) after the 10th, doubling with each
   further one up to ``USERNAME_DELAY_CAP_SECONDS`` (3 minutes). A progressive delay, not a lock: the count
   lapses ``USERNAME_WINDOW_SECONDS`` (15 minutes) after the last failure. An attacker spreading guesses
   over many addresses gets about 20 guesses an hour per username.

A known device is exempt from all three. A successful sign-in gives the browser a signed cookie
(``DEVICE_COOKIE``, ``KNOWN_DEVICE_SECONDS``: 30 days) naming the username; an attempt for that username
carrying it skips the limits above, until ``DEVICE_FAILURE_LIMIT`` (5) failures from that device within
``DEVICE_WINDOW_SECONDS`` (15 minutes) end its exemption for the window. This is what keeps the limits from
being a way to shut a user out: failures by someone else (behind the same proxy or NAT, or anywhere) never
refuse the user's own browser. (OWASP's "device cookies" against lockout attacks.)

What the real user experiences while someone attacks their username: in a browser they signed in with in
the last 30 days, nothing, from any address. In a new browser, "Too many failed sign-in attempts ... try
again in N minutes": at most 3 minutes under a distributed attack (limit 3; refused attempts are not
counted, so waiting does not lengthen the wait, though an attacker timing a guess for the instant the wait
ends can take that slot first), at most 5 minutes if their address has 5 failures for their username, and
at most 15 minutes if their address sprayed many usernames.

Attempts are refused before the password is checked, so a refusal says nothing about the password.
Success clears the username + address count only: clearing the per-address or per-username counts would
let an attacker reset them by signing in to an account of their own.

Why this module rather than django-axes: it already fails open through ``plans.failopen`` (a Redis outage
must not lock everyone out; Django's password hashing still slows guessing), and axes' lockouts are hard
locks on combinations of username and address, with neither a capped progressive delay per username nor
an exemption for known devices. Extending the existing form keeps one throttle and adds no dependency.

Counts live in the Django cache (Redis in production) and expire by the cache timeout. Locks store the
time they end, read against ``clock`` (settable in tests); their cache timeout only collects them later.
"""

import hashlib
import math
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from .failopen import Breaker, fail_open

FAILURE_LIMIT = 5
LOCKOUT_SECONDS = 5 * 60
ADDRESS_LIMIT = 30
ADDRESS_WINDOW_SECONDS = 15 * 60
USERNAME_FREE_FAILURES = 10
USERNAME_WINDOW_SECONDS = 15 * 60
USERNAME_DELAY_SECONDS = 5
USERNAME_DELAY_CAP_SECONDS = 3 * 60
DEVICE_COOKIE = "tracker_sign_in_device"
DEVICE_SALT = "plans.signin_throttle.device"
KNOWN_DEVICE_SECONDS = 30 * 24 * 3600
DEVICE_FAILURE_LIMIT = 5
DEVICE_WINDOW_SECONDS = 15 * 60
# A lock's cache entry outlives the lock a little: the stored end time decides, not the eviction.
LOCK_GRACE_SECONDS = 60
# After a cache error, skip the cache for a while: each call against a dead Redis costs a connect timeout.
CACHE_RETRY_SECONDS = 30
breaker = Breaker(CACHE_RETRY_SECONDS)

PAIR, ADDRESS, USERNAME = "pair", "address", "username"

clock = time.time


@dataclass(frozen=True)
class Refusal:
    """Why an attempt is refused (``PAIR``, ``ADDRESS`` or ``USERNAME``) and for how many more seconds."""

    reason: str
    seconds: float

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.seconds / 60))


def _name(username: str) -> str:
    return username.strip().lower()


def _digest(*parts: str) -> str:
    # Hashed: usernames are user input and may hold characters a cache key must not.
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _keys(username: str, ip: str, device: str | None) -> dict[str, str]:
    name = _name(username)
    pair, address, user = _digest(name, ip), _digest(ip), _digest(name)
    return {
        "pair_failures": f"auth:sign-in:pair-failures:{pair}",
        "pair_lock": f"auth:sign-in:pair-lock:{pair}",
        "address_failures": f"auth:sign-in:address-failures:{address}",
        "address_lock": f"auth:sign-in:address-lock:{address}",
        "username_failures": f"auth:sign-in:username-failures:{user}",
        "username_wait": f"auth:sign-in:username-wait:{user}",
        "device_failures": f"auth:sign-in:device-failures:{_digest(device or '')}",
    }


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


def known_device(request, username: str) -> str | None:
    """The id of the device the request's cookie names, if it signed in as ``username`` recently."""
    if request is None or not username:
        return None
    try:
        value = signing.loads(request.COOKIES.get(DEVICE_COOKIE, ""), salt=DEVICE_SALT, max_age=KNOWN_DEVICE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("u") != _name(username):
        return None
    return str(value.get("d") or "") or None


def remember_device(response, username: str, device: str | None):
    """Give the browser (or renew) the cookie that makes it a known device for ``username``."""
    value = signing.dumps({"u": _name(username), "d": device or uuid.uuid4().hex}, salt=DEVICE_SALT)
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=KNOWN_DEVICE_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def username_delay(failures: int) -> int:
    """Seconds the next attempt for a username waits after ``failures`` failures from anywhere."""
    if failures < USERNAME_FREE_FAILURES:
        return 0
    return min(USERNAME_DELAY_SECONDS * 2 ** (failures - USERNAME_FREE_FAILURES), USERNAME_DELAY_CAP_SECONDS)


def _refusal(username: str, ip: str, device: str | None) -> Refusal | None:
    keys = _keys(username, ip, device)
    found = cache.get_many([keys["address_lock"], keys["pair_lock"], keys["username_wait"], keys["device_failures"]])
    if device and (found.get(keys["device_failures"]) or 0) < DEVICE_FAILURE_LIMIT:
        return None
    now = clock()
    for reason, key in ((ADDRESS, "address_lock"), (PAIR, "pair_lock"), (USERNAME, "username_wait")):
        until = found.get(keys[key]) or 0
        if until > now:
            return Refusal(reason, until - now)
    return None


def sign_in_refusal(username: str, ip: str, device: str | None = None) -> Refusal | None:
    """Why an attempt for ``username`` from ``ip`` (and a known ``device``, if any) must be refused now,
    or None to let the password be checked."""
    return fail_open(lambda: _refusal(username, ip, device), None, "sign-in throttling is off", breaker=breaker)


def _count(key: str, window: int, *, sliding: bool = False) -> int:
    """Count one failure in ``key``; the window starts at the first failure, or at the last if sliding."""
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add() and incr()
        cache.add(key, 1, timeout=window)
        return 1
    if sliding:
        cache.touch(key, timeout=window)
    return count


def _lock(key: str, seconds: float) -> None:
    cache.set(key, clock() + seconds, timeout=math.ceil(seconds) + LOCK_GRACE_SECONDS)


def _count_failure(username: str, ip: str, device: str | None) -> None:
    keys = _keys(username, ip, device)
    if _count(keys["pair_failures"], LOCKOUT_SECONDS) >= FAILURE_LIMIT:
        _lock(keys["pair_lock"], LOCKOUT_SECONDS)
        cache.delete(keys["pair_failures"])  # after the lock, a fresh count
    if _count(keys["address_failures"], ADDRESS_WINDOW_SECONDS) >= ADDRESS_LIMIT:
        _lock(keys["address_lock"], ADDRESS_WINDOW_SECONDS)
        cache.delete(keys["address_failures"])
    delay = username_delay(_count(keys["username_failures"], USERNAME_WINDOW_SECONDS, sliding=True))
    if delay:
        _lock(keys["username_wait"], delay)
    if device:
        _count(keys["device_failures"], DEVICE_WINDOW_SECONDS)


def sign_in_failed(username: str, ip: str, device: str | None = None) -> None:
    """Count a failed attempt against all three limits (and the device's exemption), locking where one is
    reached."""
    fail_open(lambda: _count_failure(username, ip, device), None, "a failed sign-in was not counted", breaker=breaker)


def _succeed(username: str, ip: str, device: str | None) -> None:
    keys = _keys(username, ip, device)
    cache.delete_many([keys["pair_failures"], keys["device_failures"]] if device else [keys["pair_failures"]])


def sign_in_succeeded(username: str, ip: str, device: str | None = None) -> None:
    """Clear the username + address count, and the device's count if it is a known one."""
    fail_open(lambda: _succeed(username, ip, device), None, "a successful sign-in was not recorded", breaker=breaker)
