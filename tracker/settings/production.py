"""Production: DEBUG off, a secret key, PostgreSQL and Redis from the environment, HTTPS everywhere."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# The embedded defaults (SQLite, a per-process cache, in-process tasks) are for one developer's machine:
# behind several gunicorn workers they would silently break sign-in and API throttling, recompute
# coalescing and the broker, so production refuses to start without the real services.
for _name in ("DATABASE_URL", "REDIS_URL"):
    if not env(_name, default=""):
        raise ImproperlyConfigured(f"{_name} must be set in production.")

# The users read Chinese first: pages default to Simplified Chinese when neither the person's choice nor the
# browser names a language of the site; English stays available from the switcher.
LANGUAGE_CODE = env("LANGUAGE_CODE", default="zh-hans")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
