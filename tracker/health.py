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


def failing_recomputes() -> list[dict]:
    """Plans whose recompute keeps failing, for operators; an empty list when all is well."""
    from plans.selectors import plans_failing_recompute

    return [
        {
            "plan": row["id"],
            "slug": row["slug"],
            "since": row["recompute_failing_since"],
            "last_failed_at": row["recompute_failed_at"],
            "failures": row["recompute_failures"],
            "next_retry_at": row["recompute_retry_at"],
        }
        for row in plans_failing_recompute()
    ]


@require_GET
@never_cache
def readyz(request):
    checks = {"database": database_state(), "broker": broker_state()}
    ready = all(state in ("ok", "in-process") for state in checks.values())
    # Reported, never counted against readiness: a plan whose data breaks its recompute is no fault of
    # this process, and a probe that failed for it would take every web process out of the load balancer.
    detail = {"failing_recomputes": failing_recomputes()} if checks["database"] == "ok" else {}
    return JsonResponse({"ready": ready, **checks, **detail}, status=200 if ready else 503)
