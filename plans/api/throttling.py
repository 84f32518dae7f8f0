"""Per-token (or per-user, per-address) request rate; fails open when the cache is unreachable."""

import functools
import time
import weakref

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils.connection import ConnectionProxy
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from ..failopen import Breaker, fail_open
from ..signin_throttle import client_ip
from .authentication import api_token

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# After a cache error, skip the cache for a while: each attempt against a dead Redis costs a connect timeout.
CACHE_RETRY_SECONDS = 30
cache_breaker = Breaker(CACHE_RETRY_SECONDS)


@functools.cache
def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' -> (600, 60)."""
    count, period = rate.split("/")
    return int(count), DURATIONS[period[0]]


# One round trip: count the request and, when the counter is new (or lost its expiry), give it the window's
# lifetime. Against Django's RedisCache, add + incr cost three (SET NX, EXISTS, INCRBY).
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


# Django's RedisCache builds a new redis-py client (and its table of ~170 response callbacks) on every call, a
# third of this throttle's cost; the script and its client are made once per connection pool (a pool is per
# process and cache), and the script runs by its SHA (EVALSHA, loaded again if the server lost it).
_hit_scripts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _hit_script(backend: RedisCache):
    pool = backend._cache._get_connection_pool(True)
    script = _hit_scripts.get(pool)
    if script is None:
        script = _hit_scripts[pool] = backend._cache.get_client(write=True).register_script(HIT_SCRIPT)
    return script


def _hit(key: str, duration: int) -> int:
    """Count one request in the window's counter and return the count so far."""
    backend = caches[DEFAULT_CACHE_ALIAS] if isinstance(cache, ConnectionProxy) else cache
    if isinstance(backend, RedisCache):
        # make_key, not make_and_validate_key: the key is ours (ASCII, no spaces) and the check warns only
        # about memcached's limits.
        return int(_hit_script(backend)(keys=[backend.make_key(key)], args=[duration + 1]))
    # A per-process cache (no Redis configured): add and incr cost no round trip.
    cache.add(key, 0, timeout=duration + 1)
    try:
        return cache.incr(key)
    except ValueError:  # the key expired between add and incr: this request opens the window
        return 1


class TokenRateThrottle(BaseThrottle):
    """A fixed window counter in the cache (one atomic ``incr`` per request), keyed by the caller."""

    scope = "api"

    def __init__(self):
        self.retry_after: float | None = None

    def cache_key(self, request, window: int) -> str:
        token = api_token(request)
        if token is not None:
            ident = f"token:{token.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{client_ip(request)}"
        return f"throttle:{self.scope}:{ident}:{window}"

    def allow_request(self, request, view):
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        key = self.cache_key(request, window)
        count = fail_open(
            lambda: _hit(key, duration),
            0,
            "API throttling is off for %s seconds",
            CACHE_RETRY_SECONDS,
            breaker=cache_breaker,
        )
        if count <= limit:
            return True
        self.retry_after = (window + 1) * duration - now
        return False

    def wait(self):
        return self.retry_after
