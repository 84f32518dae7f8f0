"""Per-token (or per-user, per-address) request rate; fails open when the cache is unreachable."""

import time

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


def _hit(key: str, duration: int) -> int:
    """Count one request in the window's counter and return the count so far."""
    backend = caches[DEFAULT_CACHE_ALIAS] if isinstance(cache, ConnectionProxy) else cache
    if isinstance(backend, RedisCache):
        name = backend.make_and_validate_key(key)
        client = backend._cache.get_client(name, write=True)
        return int(client.eval(HIT_SCRIPT, 1, name, duration + 1))
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
