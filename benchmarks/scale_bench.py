"""Benchmark of issue 12 (national scale): one table of every figure, each as a ratio to a baseline of the same run.

    DATABASE_URL=postgres://... [REDIS_URL=redis://...] .venv/bin/python benchmarks/scale_bench.py [--quick]

Builds the generated plan (plans.scale_data) at scale 1 and scale 10 (``--quick``: scale 1 only) in throwaway
databases on DATABASE_URL's server and measures, beside the targets of the issue:

- pages (dashboard, focus area, goal, KPI, My work), warm and cold (cache cleared), each taking turns with a
  trivial view (``/healthz`` through the same test Client) for ten rounds, their query counts, and scale 10 /
  scale 1 with the two scales' pages taking turns for fifteen rounds (``pages_in_turns``);
- the API: a trivial detail (one team) against the trivial view, read again (from the process's read cache,
  plans.read_cache) and read from the database (the cache emptied before each read), the floor of the stack (a
  bare DRF view, one that only checks its token: benchmarks/floor_urls.py, and one PostgreSQL round trip), the
  first page of ``/kpis/``, the token check, ``If-None-Match`` answered with 304, CSV and XLSX exports;
- the whole-plan recompute (first and later) in a subprocess, its time and peak memory (ru_maxrss) against
  a raw SQL pass over the same rows in another subprocess;
- write -> fresh statuses: in-process (no broker: the response waits for the recompute) and, when REDIS_URL
  is set, through a real Celery worker; the 10,000-row bulk upsert over HTTP against a raw COPY of the same
  rows (timed to its commit), and how long after its response the statuses are fresh, each the median of three
  uploads; and, with a worker, the freshness of an upload sent as soon as the one before it is fresh (while the
  worker recounts that one's past explanations);
- the snapshot table's share of the database.

A figure whose feature is missing prints "n/a" and fails; nothing here asserts. PostgreSQL only (COPY).
"""

import argparse
import contextlib
import datetime
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tracker.settings.test")
# The parent runs without a broker (tasks in-process, locmem cache); the worker figures run in a child with it,
# which keeps REDIS_URL (the parent passes it only to that child): popped there too, its writes ran in-process.
IS_CHILD = "--child" in sys.argv
BROKER_URL = os.environ.get("REDIS_URL", "") if IS_CHILD else os.environ.pop("REDIS_URL", "")
SLUG = "national-scale"
BULK_ROWS = 10_000
BULK_RUNS = 3
CHILD_MEMORY = 4 * 2**30  # a recompute that needs more fails its figure instead of the machine
CHILD_TIMEOUT = 420

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# The test settings look static files up on every request (WhiteNoise's autorefresh, for the test runner's
# collectstatic-free pages); production does not, and the trivial view the pages are compared with would carry
# that lookup too. Before the first request, which builds the middleware.
settings.WHITENOISE_AUTOREFRESH = settings.WHITENOISE_USE_FINDERS = False

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402


def median_time(call, repeat: int = 15) -> float:
    call()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def consume(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child(mode: str, redis_url: str = "", timeout: float = CHILD_TIMEOUT) -> dict:
    """Run ``mode`` of this script in a fresh process on the bench database; its JSON result or an error."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "tracker.settings.test"}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", mode],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY)),  # noqa: PLW1509
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:80]}
    return json.loads(lines[-1])


def child_recompute() -> dict:
    from plans.models import Plan
    from plans.recompute import plan_recompute

    plan = Plan.objects.get(slug=SLUG)
    t = time.perf_counter()
    plan_recompute(plan_id=plan.pk)
    return {"seconds": time.perf_counter() - t, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_raw_pass() -> dict:
    """What any recompute must at least do: read every measurement and milestone of the plan once."""
    from plans.models import Plan

    plan = Plan.objects.get(slug=SLUG)
    t = time.perf_counter()
    total = 0
    with connection.cursor() as cursor:
        for sql in (
            "SELECT m.kpi_id, m.date, m.value FROM plans_measurement m JOIN plans_kpi k ON k.id = m.kpi_id "
            "WHERE k.plan_id = %s ORDER BY m.kpi_id, m.date",
            "SELECT id, goal_id, due_date, percent_complete, state FROM plans_milestone WHERE plan_id = %s",
        ):
            cursor.execute(sql, [plan.pk])
            while rows := cursor.fetchmany(5000):
                total += len(rows)
    return {
        "seconds": time.perf_counter() - t,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": total,
    }


def bulk_rows(plan, count: int, first: datetime.date = datetime.date(2026, 1, 1)) -> list[dict]:
    """``count`` new values from ``first`` (after the generated year), continuing each KPI's last value (no jumps)."""
    from plans.models import KPI, Measurement

    kpis = list(KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True))
    last = dict(
        Measurement.objects.filter(kpi__plan=plan, unit=None)
        .order_by("kpi_id", "date", "recorded_at", "id")
        .values_list("kpi_id", "value")
    )  # later ones overwrite earlier ones: each KPI's last value as the series counts it (the latest recorded)
    return [
        {
            "kpi": kpis[i % len(kpis)],
            "date": str(first + datetime.timedelta(days=i // len(kpis))),
            "value": round(last[kpis[i % len(kpis)]], 4),
        }
        for i in range(count)
    ]


def raw_copy_seconds(rows: list[dict], *, landed: bool = True) -> float:
    """A raw COPY of the same rows into the measurement table.

    ``landed``: timed to its commit, as any write that stores rows must be (the table's foreign keys are checked
    at commit, PostgreSQL's deferred constraints, and the WAL is flushed), then the rows are deleted again and
    the table vacuumed. Otherwise rolled back before the commit: neither cost is paid, and the ratio then set the
    upsert, which commits, against less than a write (earlier runs measured that; shown beside, no target)."""
    now = datetime.datetime.now(datetime.UTC)  # the rows' stamp, which finds them again to delete
    min_date = min(row["date"] for row in rows)
    columns = "kpi_id, date, value, note, source, recorded_at, external_id, version, created_at, updated_at"
    with connection.cursor() as cursor:
        t = time.perf_counter()
        with transaction.atomic():
            with cursor.cursor.copy(f"COPY plans_measurement ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row((row["kpi"], row["date"], row["value"], "", "api", now, "", 1, now, now))
            if not landed:
                elapsed = time.perf_counter() - t
                transaction.set_rollback(True)
        if landed:
            elapsed = time.perf_counter() - t
            cursor.execute("DELETE FROM plans_measurement WHERE recorded_at = %s AND date >= %s", [now, min_date])
            cursor.execute("VACUUM plans_measurement")
    return elapsed


def fresh_seconds(plan_id: int, start: float, timeout: float = 60) -> float | None:
    """Seconds from ``start`` until the plan's statuses have caught up with its writes."""
    from plans.models import Plan

    while time.perf_counter() - start < timeout:
        plan = Plan.objects.only("data_revision", "computed_revision").get(pk=plan_id)
        if not plan.needs_recompute:
            return time.perf_counter() - start
        time.sleep(0.02)
    return None


def token_client(scope: str = "write") -> tuple[Client, str]:
    from plans.services import api_token_create

    _, key = api_token_create(name=f"bench-{scope}-{time.monotonic_ns()}", scope=scope)
    return Client(HTTP_AUTHORIZATION=f"Token {key}"), key


def write_and_wait(api: Client, plan, kpi_id: int) -> dict:
    """One measurement over the API, then until the plan's statuses are fresh."""
    t = time.perf_counter()
    response = api.post(
        "/api/v1/measurements/",
        {"kpi": kpi_id, "date": "2025-12-31", "value": 1, "note": "bench: a value far behind its plan"},
        content_type="application/json",
    )
    answered = time.perf_counter() - t
    if response.status_code != 201:
        return {"error": f"POST {response.status_code}"}
    return {"post": answered, "fresh": fresh_seconds(plan.pk, t)}


def database_quiet(seconds: float = 0.5, timeout: float = 120) -> None:
    """Until no other client of this database has run a statement for ``seconds`` (the worker has finished what
    the last upload left it, such as its recount of past explanations), so that the next COPY and upload are
    timed on a quiet machine, as the first one is."""
    quiet_since = time.perf_counter()
    deadline = quiet_since + timeout
    while time.perf_counter() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
                "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            busy = cursor.fetchone()[0]
        if busy:
            quiet_since = time.perf_counter()
        elif time.perf_counter() - quiet_since >= seconds:
            return
        time.sleep(0.05)


def bulk_once(api: Client, plan, first: datetime.date) -> dict:
    database_quiet()
    rows = bulk_rows(plan, BULK_ROWS, first)
    copy_seconds = raw_copy_seconds(rows)
    unlanded_seconds = raw_copy_seconds(rows, landed=False)
    body = json.dumps({"measurements": rows})
    t = time.perf_counter()
    response = api.post("/api/v1/measurements/bulk/", body, content_type="application/json")
    answered = time.perf_counter() - t
    if response.status_code != 200:
        return {"error": f"bulk {response.status_code} {response.content[:60]!r}"}
    done = time.perf_counter()
    fresh = fresh_seconds(plan.pk, done)
    t = time.perf_counter()
    replay = api.post("/api/v1/measurements/bulk/", body, content_type="application/json")
    replayed = time.perf_counter() - t
    return {
        "copy": copy_seconds,
        "copy_unlanded": unlanded_seconds,
        "bulk": answered,
        "fresh_after": fresh,
        "replay": replayed if replay.status_code == 200 else None,
        "counts": response.json(),
    }


def bulk_and_wait(api: Client, plan) -> dict:
    """``BULK_RUNS`` uploads of new rows (each a month after the last), each after a raw COPY of its own rows: the
    median of each figure (None when any run missed it, as a freshness past its timeout) and of each run's ratio.
    Each starts once the database is quiet (``database_quiet``): the worker may still be recounting the past
    explanations of the last one, which would slow the next COPY more than the upload it is compared with."""
    runs = [bulk_once(api, plan, datetime.date(2026, 1 + run, 1)) for run in range(BULK_RUNS)]
    failed = next((run for run in runs if "error" in run), None)
    if failed:
        return failed
    medians = {
        key: None if any(run[key] is None for run in runs) else statistics.median(run[key] for run in runs)
        for key in ("copy", "copy_unlanded", "bulk", "fresh_after", "replay")
    }
    each = [{key: value for key, value in run.items() if key != "counts"} for run in runs]
    # Each upload over the COPY timed just before it, on the same table: the median of those ratios.
    ratios = {
        name: statistics.median(run[copy] / run["bulk"] for run in runs)
        for name, copy in (("copy_x", "copy"), ("copy_unlanded_x", "copy_unlanded"))
    }
    return {**medians, **ratios, "counts": runs[0]["counts"], "each": each}


def bulk_back_to_back(api: Client, plan) -> dict:
    """Two uploads, the second sent as soon as the first's statuses are fresh, while the worker still recounts the
    first's past explanations: how long after its response the second one's statuses are fresh."""
    database_quiet()
    months = (1 + BULK_RUNS, 2 + BULK_RUNS)  # after those of ``bulk_and_wait``'s uploads
    first, second = (bulk_rows(plan, BULK_ROWS, datetime.date(2026, month, 1)) for month in months)
    for rows in (first, second):
        response = api.post(
            "/api/v1/measurements/bulk/", json.dumps({"measurements": rows}), content_type="application/json"
        )
        if response.status_code != 200:
            return {"error": f"bulk {response.status_code}"}
        fresh = fresh_seconds(plan.pk, time.perf_counter())
    return {"fresh_after": fresh}


def child_worker_writes() -> dict:
    """Write -> fresh through the broker and a real worker (started by the parent), then the bulk upsert."""

    from plans.models import KPI, Plan

    if settings.CELERY_TASK_ALWAYS_EAGER:  # the figures would be in-process ones under the worker's name
        return {"error": "the worker child runs its tasks in-process (REDIS_URL is not set in it)"}
    plan = Plan.objects.get(slug=SLUG)
    api, _ = token_client()
    kpi_id = KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True)[1]
    one = write_and_wait(api, plan, kpi_id)
    return {"one": one, "bulk": bulk_and_wait(api, plan), "back_to_back": bulk_back_to_back(api, plan)}


CHILDREN = {"recompute": child_recompute, "raw-pass": child_raw_pass, "worker-writes": child_worker_writes}


@contextlib.contextmanager
def celery_worker(redis_url: str, log: Path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "DJANGO_SETTINGS_MODULE": "tracker.settings.test",
    }
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "tracker",
        "worker",
        "--pool",
        "solo",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-l",
        "warning",
    ]
    with log.open("ab") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        time.sleep(4)  # connected and consuming
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


PAGE_CLIENTS = {}  # scale -> {page: (signed-in client, path)}, for ``pages_in_turns``


def page_clients(plan) -> dict[str, tuple[Client, str]]:
    """Each page, with a client signed in on this database (a manager; My work: a staff member of a team)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from plans.models import KPI

    manager = get_user_model().objects.create_user(f"bench-manager-{plan.pk}", password="x")
    manager.groups.add(Group.objects.get(name="manager"))
    staff = get_user_model().objects.get(username=f"{plan.slug}.staff01")
    staff.groups.add(Group.objects.get(name="staff"))
    as_manager, as_staff = Client(), Client()
    as_manager.force_login(manager)
    as_staff.force_login(staff)
    kpi = KPI.objects.filter(plan=plan).order_by("code").first()
    goal = plan.goals.order_by("code").first()
    area = plan.focus_areas.order_by("order").first()
    pages = {
        "dashboard": (as_manager, f"/plans/{plan.slug}/"),
        "focus area": (as_manager, f"/plans/{plan.slug}/focus-areas/{area.code}/"),
        "goal": (as_manager, f"/plans/{plan.slug}/goals/{goal.code}/"),
        "KPI": (as_manager, f"/plans/{plan.slug}/kpis/{kpi.code}/"),
        "My work": (as_staff, "/my-work/"),
    }
    return pages


def measure_pages(plan, pages: dict[str, tuple[Client, str]]) -> dict:
    from django.core.cache import cache

    trivial_client = Client()
    out = {}
    for name, (client, path) in pages.items():
        cache.clear()
        queries = []
        # An execute wrapper, not CaptureQueriesContext: the client closes the connection after each
        # request (CONN_MAX_AGE 0), which empties the captured log.
        with connection.execute_wrapper(
            lambda execute, sql, *rest, queries=queries: queries.append(sql) or execute(sql, *rest)
        ):
            t = time.perf_counter()
            response = client.get(path)
            body = consume(response)
            cold = time.perf_counter() - t
        if response.status_code != 200:
            out[name] = {"error": f"{response.status_code}"}
            continue
        # On a shared machine one render is a noisy figure, and so is a baseline taken a moment apart: the page
        # (cold: after the cache is cleared; warm) and the trivial view take turns, nine rounds, and each figure is
        # the median of its own samples, so both see the machine in the same states.
        colds, warms, trivials = [cold], [], []
        for _ in range(9):
            cache.clear()
            t = time.perf_counter()
            consume(client.get(path))
            colds.append(time.perf_counter() - t)
            for _ in range(3):
                t = time.perf_counter()
                consume(client.get(path))
                warms.append(time.perf_counter() - t)
            for _ in range(5):
                t = time.perf_counter()
                trivial_client.get("/healthz")
                trivials.append(time.perf_counter() - t)
        cold, warm, here = statistics.median(colds), statistics.median(warms), statistics.median(trivials)
        out[name] = {
            "cold": cold,
            "warm": warm,
            "trivial": here,
            "warm_x": warm / here,
            "queries": len(queries),
            "bytes": len(body),
        }
    for fmt in ("csv", "xlsx"):
        t = time.perf_counter()
        response = pages["dashboard"][0].get(f"/plans/{plan.slug}/export/kpis.{fmt}")
        consume(response)
        out[f"export {fmt}"] = {"seconds": time.perf_counter() - t, "ok": response.status_code == 200}
    return out


def turns(call, rounds: int = 100) -> tuple[float, float]:
    """``call`` and the trivial view taking turns ``rounds`` times, after a few of each: the median of ``call``'s
    times, and that over the median of the trivial view's. Side by side, both see the machine in the same states (a
    baseline taken a moment apart drifts with it), as the pages do (``measure_pages``)."""
    trivial_client = Client()
    for _ in range(5):
        call()
        trivial_client.get("/healthz")
    calls, trivials = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        call()
        calls.append(time.perf_counter() - t)
        t = time.perf_counter()
        trivial_client.get("/healthz")
        trivials.append(time.perf_counter() - t)
    cost = statistics.median(calls)
    return cost, cost / statistics.median(trivials)


def measure_api(plan) -> dict:
    from django.test import RequestFactory

    from plans.api.authentication import TokenAuthentication
    from plans.models import KPI, Team
    from plans.read_cache import read_cache

    api, key = token_client("read")
    path = f"/api/v1/teams/{Team.objects.order_by('pk').first().pk}/"
    detail, detail_x = turns(lambda: api.get(path))
    uncached, uncached_x = turns(lambda: (read_cache.changed(), api.get(path)))
    first_page = api.get("/api/v1/kpis/")
    kpi = KPI.objects.filter(plan=plan).order_by("pk").first()
    response = api.get(f"/api/v1/kpis/{kpi.pk}/")
    etag = response.headers.get("ETag")
    not_modified = api.get(f"/api/v1/kpis/{kpi.pk}/", HTTP_IF_NONE_MATCH=etag).status_code if etag else None
    request = RequestFactory().get("/api/v1/teams/", HTTP_AUTHORIZATION=f"Token {key}")
    auth = TokenAuthentication()
    token_check = median_time(lambda: auth.authenticate(request), repeat=50)
    return {
        **api_floor(key),
        "detail_x": detail_x,
        "detail": detail,
        "detail_uncached_x": uncached_x,
        "detail_uncached": uncached,
        "first_page_bytes": len(first_page.content) if first_page.status_code == 200 else None,
        "etag_304": not_modified,
        "token_check": token_check,
    }


def api_floor(key: str) -> dict:
    """What any endpoint on this stack costs before it reads a row, through the same test Client and middleware as
    the trivial view: a bare DRF view (no authentication, permission or throttle) and one that only checks the
    token (benchmarks/floor_urls.py), each taking turns with the trivial view. Shown beside the detail's ratio,
    with no target of their own."""
    from django.test import override_settings

    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    out = {}
    with override_settings(ROOT_URLCONF="floor_urls"):
        for name, path in (("bare", "/bench/bare/"), ("token_only", "/bench/token/")):
            out[f"{name}_drf_x"] = turns(lambda path=path: api.get(path))[1]
    with connection.cursor() as cursor:
        out["round_trip_x"] = turns(lambda: cursor.execute("SELECT 1"))[1]
    return out


def database_share() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('plans_statussnapshot'), pg_database_size(current_database())")
        snapshots, total = cursor.fetchone()
    return {"snapshot_share": snapshots / total, "database_mib": total / 2**20}


def scale_reads(scale: float) -> dict:
    """The figures of one scale that change nothing, in a database of its own: the build, the whole-plan recompute,
    the pages and the API. The database is left, and connected, for ``pages_in_turns`` and ``scale_writes``
    (``main`` drops it)."""
    from tqdm import tqdm

    from plans.models import Plan
    from plans.scale_data import Sizes, scale_plan_create, scale_plan_rows, statistics_refresh

    result = {"scale": scale, "database": database_name(scale)}
    connection.settings_dict["TEST"]["NAME"] = result["database"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        t = time.perf_counter()
        with tqdm(total=scale_plan_rows(Sizes.at(scale)), desc=f"scale {scale:g}", unit="row", unit_scale=True) as bar:
            plan = scale_plan_create(scale=scale, slug=SLUG, progress=bar)
        result["build"] = time.perf_counter() - t
        print(f"scale {scale:g}: built in {result['build']:.0f} s; recomputing", file=sys.stderr)
        result["raw_pass"] = child("raw-pass")
        result["recompute_first"] = child("recompute")
        result["recompute_later"] = child("recompute")
        statistics_refresh()  # as generate_scale_data does after its recompute
        connection.close()
        plan = Plan.objects.get(pk=plan.pk)
        trivial_client = Client()
        trivial = median_time(lambda: trivial_client.get("/healthz"), repeat=50)
        result["trivial"] = trivial
        print(f"scale {scale:g}: pages", file=sys.stderr)
        PAGE_CLIENTS[scale] = page_clients(plan)
        result["pages"] = measure_pages(plan, PAGE_CLIENTS[scale])
        result["api"] = measure_api(plan)
    finally:
        from plans.read_cache import read_cache

        read_cache.close()  # its listening connection would keep the database from being dropped
    return result


def scale_writes(result: dict, log_dir: Path) -> None:
    """The figures of a scale that write (freshness, bulk ingest) into its ``result``, on its database (after
    ``pages_in_turns``, which compares the pages as built), and the database's size."""
    from plans.models import KPI, Plan
    from plans.read_cache import read_cache

    scale = result["scale"]
    database_use(result["database"])
    try:
        plan = Plan.objects.get(slug=SLUG)
        kpi_id = KPI.objects.filter(plan=plan).order_by("pk").values_list("pk", flat=True).first()
        result["in_process"] = write_and_wait(token_client()[0], plan, kpi_id) if not plan.needs_recompute else {}
        if BROKER_URL:
            print(f"scale {scale:g}: worker", file=sys.stderr)
            with celery_worker(BROKER_URL, log_dir / f"worker-{scale:g}.log"):
                result["worker"] = child("worker-writes", redis_url=BROKER_URL)
        else:
            result["worker"] = {"bulk": bulk_and_wait(token_client()[0], plan)}  # in-process: waits for the recompute
        result["db"] = database_share()
    finally:
        read_cache.close()


def database_name(scale: float) -> str:
    return f"bench_scale_{str(scale).replace('.', '_')}"


def database_use(name: str, *, connect: bool = True) -> None:
    """Use the database ``name``, connected here (not in a request timed next) unless ``connect`` is False."""
    connection.close()
    connection.settings_dict["NAME"] = name
    if connect:
        connection.ensure_connection()


def pages_in_turns(results: list[dict], rounds: int = 15) -> dict:
    """Each page at the two scales taking turns, ``rounds`` times, each request on its own scale's database (cold:
    after the cache is cleared; then warm): the median of each, by page, mode and scale.

    The two scales are built and measured minutes apart, on a shared machine whose speed drifts more than that;
    their pages' ratio to a trivial view measured beside each (``measure_pages``) sets a 60 ms page against a
    0.3 ms one, whose noise then moves it by more than the scales differ. Side by side, both scales see the
    machine in the same states. The cache keys of each scale get a prefix of their own (both plans have the same
    ids); which scale goes first alternates between rounds."""
    from django.core.cache import caches

    cache = caches["default"]
    original, prefix = connection.settings_dict["NAME"], cache.key_prefix
    samples = {}
    try:
        for round_ in range(rounds):
            for name in PAGE_CLIENTS[results[0]["scale"]]:
                for result in results[:: 1 if round_ % 2 else -1]:
                    database_use(result["database"])
                    cache.key_prefix = f"scale-{result['scale']:g}"
                    client, path = PAGE_CLIENTS[result["scale"]][name]
                    cache.clear()
                    for mode in ("cold", "warm", "warm"):
                        t = time.perf_counter()
                        consume(client.get(path))
                        samples.setdefault((name, mode, result["scale"]), []).append(time.perf_counter() - t)
    finally:
        cache.key_prefix = prefix
        database_use(original)
    turns = {}
    for (name, mode, scale), times in samples.items():
        turns.setdefault(name, {}).setdefault(mode, {})[f"{scale:g}"] = statistics.median(times)
    return turns


def databases_drop(scales: list[float], original: str) -> None:
    """Drop the scales' databases, those of a run that failed too."""
    database_use(original, connect=False)
    with connection._nodb_cursor() as cursor:
        for scale in scales:
            cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(database_name(scale))}")


def get(data, *keys):
    for key in keys:
        if not isinstance(data, dict) or data.get(key) is None:
            return None
        data = data[key]
    return data


def fmt_ratio(value, absolute=None, unit="ms"):
    if value is None:
        return "n/a"
    text = f"{value:.2f}x" if value < 10 else f"{value:.0f}x"
    if absolute is not None:
        text += f" ({absolute * 1000:.0f} ms)" if unit == "ms" else f" ({absolute})"
    return text


def table(results: list[dict]) -> list[tuple]:
    """(figure, value per scale, target, pass) rows."""
    rows = []

    def add(label, values, target, check):
        passed = all(v is not None and check(v) for v in values)
        rows.append((label, values, target, "pass" if passed else "FAIL"))

    def each(*keys):
        return [get(r, *keys) for r in results]

    def add_ms(label, keys, target, limit, *, first_only=False):
        """A figure kept in seconds, shown in ms, passing at or under ``limit`` ms (``first_only``: the target
        is set for scale 1; the other scales are shown, and judged by the scale ratios below)."""
        values = [(s * 1000, s) if s is not None else None for s in each(*keys)]
        if first_only:
            rows.append((label, values, target, "pass" if values[0] and values[0][0] <= limit else "FAIL"))
            return
        add(label, values, target, lambda v: v[0] <= limit)

    pairs = list(zip(each("recompute_later", "seconds"), each("raw_pass", "seconds"), strict=True))
    add(
        "whole-plan recompute (later) / raw SQL pass",
        [(a / b, a) if a and b else None for a, b in pairs],
        "<= 5x",
        lambda v: v[0] <= 5,
    )
    add("first recompute, seconds", [(s, s) if s else None for s in each("recompute_first", "seconds")], "", bool)
    add(
        "recompute peak memory, MiB (raw pass)",
        [
            (m, f"{m:.0f} / {r:.0f}") if m and r else None
            for m, r in zip(each("recompute_first", "peak_mib"), each("raw_pass", "peak_mib"), strict=True)
        ],
        "<= 300 MiB",
        lambda v: v[0] <= 300,
    )
    for page in ("dashboard", "focus area", "goal", "KPI", "My work"):
        add(
            f"{page}: warm / trivial view",
            [
                (w, w * t) if w else None
                for w, t in zip(each("pages", page, "warm_x"), each("pages", page, "trivial"), strict=True)
            ],
            "<= 5x",
            lambda v: v[0] <= 5,
        )
        add_ms(f"{page}: cold, ms", ("pages", page, "cold"), "<= 100 ms (scale 1)", 100, first_only=True)
        add(
            f"{page}: queries (cold)", [(q, q) if q else None for q in each("pages", page, "queries")], "constant", bool
        )
    if len(results) == 2:
        # Each page at the two scales taking turns (``pages_in_turns``): the larger scale's median over the smaller's.
        low, high = (f"{r['scale']:g}" for r in results)
        for page in ("dashboard", "focus area", "goal", "KPI", "My work"):
            for mode in ("warm", "cold"):
                a, b = (get(results[1], "pages_in_turns", page, mode, scale) for scale in (low, high))
                add(
                    f"{page}: scale {high} / scale {low} ({mode}, in turns)",
                    [(b / a, f"{a * 1000:.1f} -> {b * 1000:.1f} ms") if a and b else None],
                    "<= 1.2x",
                    lambda v: v[0] <= 1.2,
                )
        qa, qb = (get(r, "pages", "dashboard", "queries") for r in results)
        add("dashboard queries equal at both scales", [(1.0, f"{qa} / {qb}") if qa == qb else None], "equal", bool)
    add(
        "API trivial detail / trivial view",
        [(x, d) if x else None for x, d in zip(each("api", "detail_x"), each("api", "detail"), strict=True)],
        "<= 2x",
        lambda v: v[0] <= 2,
    )
    add(
        "API trivial detail read from the database (read cache emptied) / trivial view",
        [
            (x, f"{d * 1000:.1f} ms") if x else None
            for x, d in zip(each("api", "detail_uncached_x"), each("api", "detail_uncached"), strict=True)
        ],
        "",
        bool,
    )
    for name, label in (("bare", "a bare DRF view"), ("token_only", "a DRF view that only checks its token")):
        add(
            f"API floor: {label} / the trivial view",
            [(x, f"{x:.2f}x") if x else None for x in each("api", f"{name}_drf_x")],
            "",
            bool,
        )
    add(
        "API floor: one PostgreSQL round trip (SELECT 1) / the trivial view",
        [(x, f"{x:.2f}x") if x else None for x in each("api", "round_trip_x")],
        "",
        bool,
    )
    add(
        "/api/v1/kpis/ first page, KB",
        [(b / 1000, f"{b / 1000:.0f} KB") if b else None for b in each("api", "first_page_bytes")],
        "< 200 KB",
        lambda v: v[0] < 200,
    )
    add_ms("token check, ms", ("api", "token_check"), "< 1 ms", 1)
    add(
        "If-None-Match answered", [(s, s) if s else None for s in each("api", "etag_304")], "304", lambda v: v[0] == 304
    )
    for fmt in ("csv", "xlsx"):
        add_ms(
            f"KPI export {fmt.upper()} (scale 1: 1,200 KPIs), ms",
            ("pages", f"export {fmt}", "seconds"),
            "< 300 ms (1,200 KPIs)",
            300,
            first_only=True,
        )
    add_ms("write -> fresh, in-process (POST waits), ms", ("in_process", "fresh"), "< 1000 ms", 1000)
    if BROKER_URL:
        add_ms("write -> fresh via Redis + worker, ms", ("worker", "one", "fresh"), "< 2000 ms", 2000)
    add(
        "bulk 10,000 rows: raw COPY / HTTP upsert",
        [
            (x, b) if x and b else None
            for x, b in zip(each("worker", "bulk", "copy_x"), each("worker", "bulk", "bulk"), strict=True)
        ],
        ">= 0.25",
        lambda v: v[0] >= 0.25,
    )
    add(
        "bulk: the same, against a COPY rolled back before its commit",
        [
            (x, b) if x and b else None
            for x, b in zip(each("worker", "bulk", "copy_unlanded_x"), each("worker", "bulk", "bulk"), strict=True)
        ],
        "",
        lambda v: True,
    )
    add_ms("bulk: statuses fresh after the response, ms", ("worker", "bulk", "fresh_after"), "< 2000 ms", 2000)
    if BROKER_URL:
        add_ms(
            "bulk: the same for a second upload sent once the first is fresh, ms",
            ("worker", "back_to_back", "fresh_after"),
            "< 2000 ms",
            2000,
        )
    add_ms("bulk replay (unchanged), ms", ("worker", "bulk", "replay"), "", float("inf"))
    add(
        "snapshot table share of the database",
        [
            (s, f"{m:.0f} MiB db") if s is not None else None
            for s, m in zip(each("db", "snapshot_share"), each("db", "database_mib"), strict=True)
        ],
        "< 0.5 (not dominant)",
        lambda v: v[0] < 0.5,
    )
    return rows


def print_table(results: list[dict]) -> None:
    load = os.getloadavg()
    out = io.StringIO()
    scales = [f"scale {r['scale']:g}" for r in results]
    trivial = ", ".join(f"{r['scale']:g}: {r.get('trivial', 0) * 1e6:.0f} us" for r in results)
    print(
        f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; trivial view (/healthz, test Client) {trivial}",
        file=out,
    )
    print(f"| figure | {' | '.join(scales)} | target | result |", file=out)
    print(f"| --- | {' | '.join('---' for _ in scales)} | --- | --- |", file=out)
    for label, values, target, verdict in table(results):
        cells = []
        for value in values:
            if value is None:
                cells.append("n/a")
            else:
                number, detail = value
                shown = f"{number:.2f}" if isinstance(number, float) and number < 10 else f"{number:.0f}"
                if isinstance(detail, float):
                    detail = f"{detail * 1000:.0f} ms"
                cells.append(f"{shown} ({detail})" if str(detail) != shown else shown)
        cells += [""] * (len(scales) - len(cells))
        print(f"| {label} | {' | '.join(cells)} | {target} | {verdict} |", file=out)
    print(out.getvalue())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="Scale 1 only.")
    parser.add_argument("--scales", type=float, nargs="+", help="Other scales (default 1 and 10).")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="Also write the raw figures here.")
    args = parser.parse_args()
    from testserver import allow_test_client

    allow_test_client()  # the test client's host; templates are not instrumented (benchmarks/testserver.py)
    if args.child:
        print(json.dumps(CHILDREN[args.child](), default=str))
        return
    if connection.vendor != "postgresql":
        sys.exit("scale_bench needs PostgreSQL: set DATABASE_URL (its server gets throwaway databases).")
    scales = args.scales or ([1.0] if args.quick else [1.0, 10.0])
    log_dir = ROOT / "test-artifacts"
    log_dir.mkdir(exist_ok=True)
    started = time.perf_counter()
    original, results = connection.settings_dict["NAME"], []
    try:
        for scale in scales:
            database_use(original, connect=False)  # create_test_db starts from there
            results.append(scale_reads(scale))
        if len(results) == 2:
            print("pages of both scales in turns", file=sys.stderr)
            results[1]["pages_in_turns"] = pages_in_turns(results)
        for result in results:
            scale_writes(result, log_dir)
    finally:
        databases_drop(scales, original)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    print(f"benchmark took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
