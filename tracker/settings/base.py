"""Settings shared by every environment, read from the environment (django-environ).

Embedded defaults make a fresh clone runnable: SQLite in the project folder, and Celery tasks run
in-process after commit when no ``REDIS_URL`` is set. ``local``, ``test`` and ``production`` hold
the few overrides each environment needs.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - only ever used with DEBUG on
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "plans",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "plans.read_cache.WritesForgetMiddleware",
    "tracker.middleware.RequireContentLengthMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "plans.language.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tracker.middleware.ContentSecurityPolicyMiddleware",
    "tracker.middleware.PrivateResponseMiddleware",
]

# Security headers. Every page loads only its own scripts, styles and images: no inline script, style
# or event handler (a nonce where a third-party template needs one), and no page may be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Features no page uses are switched off for the page and anything it might embed.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
SECURE_REFERRER_POLICY = "same-origin"

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "plans.context_processors.notifications",
                "plans.context_processors.roles",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A new PostgreSQL connection costs more than a whole API request (a trivial detail: 16.9 ms with a connection
# per request, 4.0 ms reusing one), so each web process keeps its connection for a minute, checked before reuse
# (a connection the server dropped is replaced, not failed on). tracker/asgi.py sets 0: under ASGI each request
# may run on another thread, so connections would pile up. The Celery worker closes its connection around every
# task anyway (Celery's Django fixup), so a long-idle worker never runs a task on a dead one.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Tokens and API item details are kept in each web process's memory, emptied by every committed change
# (plans/read_cache.py: PostgreSQL's LISTEN/NOTIFY). Off behind a pooler in transaction mode, where LISTEN fails.
API_READ_CACHE = env.bool("API_READ_CACHE", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # PostgreSQL's JIT compiles a plan whose estimated cost passes jit_above_cost; for this app's queries the
    # compilation costs more than it saves (the "My work" query: 787 ms with JIT, 297 ms without).
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# A warm page reads no row for its viewer: the session (written to the database too, so none is lost when the
# cache is flushed) and the user with its role, teams and units come from the cache (plans.sessions,
# plans.user_cache). Sessions signed in under Django's ModelBackend sign in again once.
SESSION_ENGINE = "plans.sessions"
AUTHENTICATION_BACKENDS = ["plans.user_cache.CachedModelBackend"]
LOGIN_REDIRECT_URL = "plans:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers per language (tracker/formats/<language>/formats.py): 30 June 2025 / 2025年6月30日.
FORMAT_MODULE_PATH = ["tracker.formats"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Redis is optional: with REDIS_URL it is the Celery broker and the cache; without it tasks run
# in-process (after the transaction commits, since every enqueue goes through on_commit).
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
# Redis redelivers an unacknowledged task after the visibility timeout: it must exceed the longest hard
# time limit (plans.tasks, 600 s), or a task still running runs twice; a little above it, a task whose
# worker was killed runs again within minutes, not an hour.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 600 + 120,
    "socket_connect_timeout": 3,
    "socket_timeout": 5,
    "max_retries": 2,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# The worker and beat wait out a broker outage of any length, backing off up to 30 s between attempts,
# at startup too; the web never waits on these (its publish has its own short retry policy below).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A task running when the broker connection drops cannot be acknowledged and is redelivered anyway, so
# it is stopped (Celery 6's default); recomputes are idempotent and the catch-up task covers the gap.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}

# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR). Sign-in
# and API throttling key on the client address this yields.
TRACKER_NUM_PROXIES = env.int("TRACKER_NUM_PROXIES", default=0)

# Housekeeping (plans.tasks.housekeeping, nightly): deletions stay in the sync feed this long, and
# snapshots of days other than month ends are kept this long (month ends are kept for good).
TRACKER_TOMBSTONE_RETENTION_DAYS = env.int("TRACKER_TOMBSTONE_RETENTION_DAYS", default=365)

# A measurement that moves more than this many times the KPI's typical period-on-period change needs
# a note confirming it (plans.services.kpis.measurement_check): it is more often a typo than news.
TRACKER_JUMP_NOTE_MULTIPLE = env.float("TRACKER_JUMP_NOTE_MULTIPLE", default=5.0)

# E-mail (reminders, plans.services.reminders): printed to the console unless an SMTP server is configured,
# by EMAIL_URL (smtp://user:password@host:587, smtp+tls://... for STARTTLS, smtps://... for SSL) or by EMAIL_HOST
# and its companions. A server that hangs fails a send after EMAIL_TIMEOUT seconds; the next run retries it.
if env("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"]
    EMAIL_PORT = _email["EMAIL_PORT"]
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"]
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
elif env("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=587)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=True)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Action Plan Tracker <tracker@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Where the accessibility statement (/accessibility/) asks people to write when a page is hard to use.
TRACKER_ACCESSIBILITY_CONTACT = env("TRACKER_ACCESSIBILITY_CONTACT", default="accessibility@localhost")
# The address of the site as its users reach it, for the links in e-mails (which have no request to build them from).
TRACKER_SITE_URL = env("TRACKER_SITE_URL", default="http://127.0.0.1:8000")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "plans.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["plans.api.filters.StrictFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "plans.api.schema.TrackerAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "plans.api.pagination.SyncCursorPagination",
    "PAGE_SIZE": 100,
    # JSON only, with a size limit per view and a nesting limit (plans/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["plans.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "plans.api.negotiation.FirstRendererNegotiation",
    "DEFAULT_THROTTLE_CLASSES": ["plans.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env("API_THROTTLE_RATE", default="1200/minute")},
    "NUM_PROXIES": TRACKER_NUM_PROXIES or None,
    "EXCEPTION_HANDLER": "plans.api.exceptions.api_exception_handler",
    "STRICT_JSON": True,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Action Plan Tracker API",
    "DESCRIPTION": (
        "Plans, KPIs, milestones, measurements and their computed statuses. Authenticate with "
        "`Authorization: Token <key>`. Lists page by (updated_at, id): pass `updated_since` and follow `next`; "
        "deletions are listed at /api/v1/deletions/."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files; no online validator badge (it would
    # send the schema's address to validator.swagger.io).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "plans.choices.Status",
        "MilestoneStateEnum": "plans.choices.MilestoneState",
        "MeasurementSourceEnum": "plans.choices.MeasurementSource",
        "SubmissionStateEnum": "plans.choices.SubmissionState",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # WeasyPrint logs each step of every PDF (the briefing) at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint.progress": {"level": "WARNING"}},
}
