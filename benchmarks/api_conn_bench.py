"""Benchmark: API and export costs as ratios to a trivial Django view (/healthz) measured in the same run.

    .venv/bin/python benchmarks/api_conn_bench.py [--kpis 1200] [--repeat 200]

Prints figures; asserts nothing. Runs in a throwaway test database on whatever DATABASE_URL points at, through
Django's test client (in-process: no gunicorn, no network), so a ratio shows what the app adds per request.
The baseline is ``/healthz`` for an anonymous client, as in scale_bench.py (a signed-in client would add its
session and user queries to it). The trivial detail is followed by what it is made of: the token check, the
throttle's count (one Redis round trip), the ORM read of the row, and bare round trips to PostgreSQL and Redis.
The API throttle is raised for the run (``API_THROTTLE_RATE``) so that repeats are counted but never refused.
KPI explanations are padded to their national-scale weight (200 points each) for the page-size figures.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("API_THROTTLE_RATE", "100000000/minute")

import recompute_bench  # noqa: E402  (sets up Django)
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402


def median_ms(call, repeat: int) -> float:
    return timed(call, repeat)[0]


def timed(call, repeat: int) -> tuple[float, float, float]:
    """The median and mean wall time of ``call`` and the mean CPU time this process spent in it, in ms.

    On a loaded machine the median favours a view without round trips: most of its calls fit in one time slice
    and never wait for the CPU, while each round trip to PostgreSQL or Redis gives the CPU up and waits to get it
    back. The mean counts the waits of both; the CPU time counts neither (nor the servers' work)."""
    call()  # warm up: imports, caches, the connection
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    cpu = (time.process_time() - cpu) / repeat
    return statistics.median(times) * 1000, statistics.mean(times) * 1000, cpu * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kpis", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.test.client import RequestFactory
    from django.test.utils import setup_test_environment
    from rest_framework.request import Request

    from plans.api.authentication import TokenAuthentication
    from plans.api.throttling import TokenRateThrottle
    from plans.models import KPI, Plan, Team
    from plans.recompute import plan_recompute
    from plans.services import api_token_create

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        plan = Plan.objects.get(pk=recompute_bench.build(args.kpis, 4))  # and two milestones per KPI
        plan_recompute(plan_id=plan.pk, as_of=datetime.date(2025, 10, 15), backfill=True)
        for kpi in KPI.objects.filter(plan=plan).only("id", "explanation"):
            points = [{"date": f"2009-{1 + i % 12:02d}-28", "value": 50 + i * 0.1, "used": True} for i in range(200)]
            KPI.objects.filter(pk=kpi.pk).update(explanation={**(kpi.explanation or {}), "points": points})

        _, key = api_token_create(name="bench", scope="read")
        api = Client(HTTP_AUTHORIZATION=f"Token {key}")
        team = Team.objects.first()
        user = get_user_model().objects.create_user("bench-manager", password="x")
        user.groups.add(Group.objects.get_or_create(name="manager")[0])
        web = Client()
        web.force_login(user)

        n = args.repeat
        anonymous = Client()
        # Alternated three times, the medians kept: the machine's other load drifts.
        pairs = [
            (timed(lambda: anonymous.get("/healthz"), n), timed(lambda: api.get(f"/api/v1/teams/{team.pk}/"), n))
            for _ in range(3)
        ]
        (base, base_mean, base_cpu), (detail, detail_mean, detail_cpu) = (
            tuple(statistics.median(pair[i][j] for pair in pairs) for j in (0, 1, 2)) for i in (0, 1)
        )
        rows = []

        def row(label, ms, extra=""):
            rows.append((label, ms, ms / base, extra))

        row("trivial Django view GET /healthz", base, f"mean {base_mean:.3f} ms; CPU of this process {base_cpu:.3f} ms")
        row(
            "trivial DRF detail GET /api/v1/teams/<id>/ (token)",
            detail,
            f"mean {detail_mean:.3f} ms, {detail_mean / base_mean:.1f}x; "
            f"CPU of this process {detail_cpu:.3f} ms, {detail_cpu / base_cpu:.1f}x",
        )
        factory = RequestFactory()
        auth = TokenAuthentication()
        raw = factory.get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {key}")
        row(
            "  token check (TokenAuthentication.authenticate)",
            median_ms(lambda: auth.authenticate(Request(raw)), n * 5),
        )
        throttle = TokenRateThrottle()
        authenticated = Request(raw, authenticators=[auth])
        row(
            "  throttle count (TokenRateThrottle.allow_request)",
            median_ms(lambda: throttle.allow_request(authenticated, None), n * 5),
        )
        row("  ORM read of the team (Team.objects.get)", median_ms(lambda: Team.objects.get(pk=team.pk), n * 5))
        with connection.cursor() as cursor:
            row("  a PostgreSQL round trip (SELECT 1)", median_ms(lambda: cursor.execute("SELECT 1"), n * 5))
        redis = cache._cache.get_client(write=True) if hasattr(cache, "_cache") else None
        if redis is not None:
            row("  a Redis round trip (PING)", median_ms(redis.ping, n * 5))

        def reconnect():
            connection.close()
            connection.ensure_connection()

        row("a new database connection (what CONN_MAX_AGE=0 pays per request)", median_ms(reconnect, 50))
        for label, params in (("", {}), (" ?expand=explanation", {"expand": "explanation"})):
            response = api.get("/api/v1/kpis/", params)
            size = f"{len(response.content) / 1024:.0f} KB for {len(response.json()['results'])} rows"
            row(f"GET /api/v1/kpis/{label}", median_ms(lambda p=params: api.get("/api/v1/kpis/", p), 20), size)
        etag = api.get("/api/v1/kpis/")["ETag"]
        row(
            "GET /api/v1/kpis/ with If-None-Match (304)",
            median_ms(lambda: api.get("/api/v1/kpis/", HTTP_IF_NONE_MATCH=etag), 20),
        )
        for fmt in ("csv", "xlsx"):
            path = f"/plans/{plan.slug}/export/kpis.{fmt}"
            size = len(web.get(path).getvalue())
            row(
                f"GET {path} ({args.kpis} KPIs)",
                median_ms(lambda p=path: web.get(p).getvalue(), 5),
                f"{size / 1024:.0f} KB",
            )

        load = os.getloadavg()
        print(f"database: {connection.vendor}; {args.kpis} KPIs, {2 * args.kpis} milestones; load {load[0]:.2f}")
        print(f"{'figure':<72} {'ms':>9} {'ratio':>8}")
        for label, ms, ratio, extra in rows:
            print(f"{label:<72} {ms:>9.3f} {ratio:>7.1f}x  {extra}")
    finally:
        from plans.read_cache import read_cache

        read_cache.close()  # its listening connection would keep the database from being dropped
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
