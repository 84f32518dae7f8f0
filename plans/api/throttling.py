"""Per-token (or per-user, per-address) request rate; fails open when the cache is unreachable."""

import logging
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from .authentication import api_token

logger = logging.getLogger(__name__)

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# After a cache error, skip the cache for a while: each attempt against a dead Redis costs a connect timeout.
CACHE_RETRY_SECONDS = 30
_cache_down_until = 0.0


def parse_rate(rate: str) -> tuple[int, int]:
    """'600/minute' -> (600, 60)."""
    count, period = rate.split("/")
    return int(count), DURATIONS[period[0]]


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
            ident = f"addr:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}:{window}"

    def allow_request(self, request, view):
        global _cache_down_until
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        if now < _cache_down_until:
            return True
        window = int(now // duration)
        key = self.cache_key(request, window)
        try:
            cache.add(key, 0, timeout=duration + 1)
            count = cache.incr(key)
        except ValueError:  # the key expired between add and incr: this request opens the window
            count = 1
        except Exception:
            logger.warning(
                "Cache unavailable; API throttling is off for %s seconds", CACHE_RETRY_SECONDS, exc_info=True
            )
            _cache_down_until = now + CACHE_RETRY_SECONDS
            return True
        if count <= limit:
            return True
        self.retry_after = (window + 1) * duration - now
        return False

    def wait(self):
        return self.retry_after
