"""Sign-in with throttling: after a few failed attempts for one username from one address, refuse for a while.

Failures are counted in the Django cache (Redis in production). When the cache is unreachable the
throttle fails open: a Redis outage must not lock every user out, and Django's password hashing
still slows guessing down.
"""

import hashlib
import logging

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from .permissions import is_manager

logger = logging.getLogger(__name__)

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
    try:
        return (cache.get(_key(username, ip)) or 0) >= FAILURE_LIMIT
    except Exception:
        logger.warning("Cache unavailable; sign-in throttling is off", exc_info=True)
        return False


def sign_in_failed(username: str, ip: str) -> None:
    """Count a failure; the window starts at the first failure and is not extended by later ones."""
    key = _key(username, ip)
    try:
        if cache.add(key, 1, timeout=LOCKOUT_SECONDS):
            return
        try:
            cache.incr(key)
        except ValueError:  # the key expired between add() and incr()
            cache.add(key, 1, timeout=LOCKOUT_SECONDS)
    except Exception:
        logger.warning("Cache unavailable; a failed sign-in was not counted", exc_info=True)


def sign_in_reset(username: str, ip: str) -> None:
    try:
        cache.delete(_key(username, ip))
    except Exception:
        logger.warning("Cache unavailable; could not reset the failed sign-in count", exc_info=True)


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _(
            "Too many failed sign-in attempts for this username. Please wait %(minutes)s minutes and try again."
        ),
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ip = client_ip(self.request)
        if username and sign_in_locked(username, ip):
            raise ValidationError(
                self.error_messages["throttled"], code="throttled", params={"minutes": LOCKOUT_SECONDS // 60}
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                sign_in_failed(username, ip)
            raise
        sign_in_reset(username, ip)
        return cleaned


class SignInView(LoginView):
    """Django's LoginView with the throttled form; staff with teams land on "My work"."""

    form_class = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        user = self.request.user
        if not is_manager(user) and user.teams.exists():
            return reverse("plans:my_work")
        return super().get_default_redirect_url()
