"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and compose healthchecks."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@require_GET
@never_cache
def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any driver error means "not ready"
        return f"error: {exc.__class__.__name__}"


def broker_state() -> str:
    if not settings.REDIS_URL:
        return "in-process"
    from redis import Redis

    try:
        Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
        return "ok"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


@require_GET
@never_cache
def readyz(request):
    checks = {"database": database_state(), "broker": broker_state()}
    ready = all(state in ("ok", "in-process") for state in checks.values())
    return JsonResponse({"ready": ready, **checks}, status=200 if ready else 503)
