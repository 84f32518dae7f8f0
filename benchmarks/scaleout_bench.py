"""Scale-out benchmark of issue 12: 2 web processes + 2 Celery workers against 1 + 1, on one PostgreSQL and Redis.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/scaleout_bench.py [--scale 0.05] [--plans 2] [--seconds 20]

Builds ``--plans`` generated plans (``plans.scale_data``, as ``manage.py generate_scale_data --scale`` does) in a
throwaway database on DATABASE_URL's server, starts a Redis of its own, then for each configuration (1 gunicorn
worker + 1 Celery worker, then 2 + 2) runs a closed-loop load from ``--clients`` threads (http.client, a new
connection per request) for ``--seconds``: 80% reads (the plan dashboard, a KPI page, the API's KPI list and a
KPI detail) and 20% measurement writes over the API. It prints requests per second and the ratio 2/1, p50/p95
latency, the errors, the whole-plan recomputes the workers ran, whether every plan ended computed at its data
revision (none lost), and os.getloadavg().

On 2 cores the load generator, PostgreSQL and Redis share the cores with the app, so the 2/1 ratio is bounded
well below 2: one process per core is all the machine has, and the generator takes a share of it. The figure
says what the app's processes add, not what a machine with cores to spare would give. Nothing here asserts.
"""

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "tracker.settings.test"
os.environ.pop("REDIS_URL", None)  # the parent builds the data in-process; the servers get the bench Redis

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

WRITE_SHARE = 0.2
TASK_DONE = re.compile(r"Task plans\.tasks\.plan_recompute_task\[[^\]]+\] succeeded")
# A web process logs each write whose incremental update could not apply and enqueued the whole plan.
FELL_BACK = re.compile(r"Plan \d+ is recomputed whole|The incremental update of plan \d+ failed")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def spawn(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_http(port: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return True
        except OSError:
            time.sleep(0.3)
    return False


def fixtures(plans: int, scale: float) -> dict:
    """The plans, a signed-in manager's session cookie and a write token: what the load needs."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from plans.models import KPI
    from plans.recompute import plan_recompute
    from plans.scale_data import scale_plan_create
    from plans.services import api_token_create

    targets = []
    for n in range(plans):
        plan = scale_plan_create(scale=scale, seed=n + 1, slug=f"scaleout-{n}")
        plan_recompute(plan_id=plan.pk)  # as generate_scale_data does: writes then apply incrementally
        kpis = list(KPI.objects.filter(plan=plan).order_by("id").values_list("id", "code"))
        targets.append({"id": plan.pk, "slug": plan.slug, "kpis": kpis})
    user = get_user_model().objects.create_superuser("bench", "bench@example.invalid", "bench-password-2025")
    client = Client()
    client.force_login(user)
    _, key = api_token_create(name="scaleout bench", scope="manage")
    return {"plans": targets, "cookie": f"sessionid={client.cookies['sessionid'].value}", "token": key}


class Load:
    """A closed loop of ``clients`` threads for ``seconds``: each request's kind, latency and status."""

    def __init__(self, port: int, data: dict, clients: int, seconds: float, seed: int, trivial: bool = False):
        self.port, self.data, self.clients, self.seconds, self.trivial = port, data, clients, seconds, trivial
        self.results: list[tuple[str, float, int]] = []
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.counter = 0

    def request(self, rng: random.Random) -> tuple[str, str, str, dict, bytes | None]:
        if self.trivial:
            return "healthz", "GET", "/healthz", {}, None
        plan = rng.choice(self.data["plans"])
        kpi_id, code = rng.choice(plan["kpis"])
        api = {"Authorization": f"Token {self.data['token']}"}
        if rng.random() < WRITE_SHARE:
            with self.lock:
                self.counter += 1
                n = self.counter
            body = {"kpi": kpi_id, "date": "2025-12-31", "value": 50 + n % 50, "note": f"scale-out bench {n}"}
            headers = {**api, "Content-Type": "application/json"}
            return "write", "POST", "/api/v1/measurements/", headers, json.dumps(body).encode()
        page = {"Cookie": self.data["cookie"]}
        return rng.choice(
            [
                ("dashboard", "GET", f"/plans/{plan['slug']}/", page, None),
                ("kpi page", "GET", f"/plans/{plan['slug']}/kpis/{code}/", page, None),
                ("api list", "GET", f"/api/v1/kpis/?plan={plan['id']}", api, None),
                ("api detail", "GET", f"/api/v1/kpis/{kpi_id}/", api, None),
            ]
        )

    def client(self, seed: int, deadline: float) -> None:
        rng, results = random.Random(seed), []
        while time.monotonic() < deadline:
            kind, method, path, headers, body = self.request(rng)
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                conn.request(method, path, body=body, headers={"Host": "127.0.0.1", **headers})
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except OSError:
                status = 0
            results.append((kind, time.perf_counter() - start, status))
        with self.lock:
            self.results += results

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        threads = [
            threading.Thread(target=self.client, args=(self.rng.random(), deadline)) for _ in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


def in_sync(plan_ids) -> bool:
    from plans.models import Plan

    return all(p.computed_revision == p.data_revision for p in Plan.objects.filter(pk__in=plan_ids))


def run_config(processes: int, data: dict, env: dict, args, log_dir: Path, round_: int) -> dict:
    port = free_port()
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "tracker.wsgi", "--bind", f"127.0.0.1:{port}"]
    web_log = log_dir / f"web-{round_}-{processes}.log"
    web = spawn([*gunicorn, "--workers", str(processes)], env, web_log)
    logs = [log_dir / f"worker-{round_}-{processes}-{n}.log" for n in range(processes)]
    for log in logs:
        log.write_text("")
    celery = [str(ROOT / ".venv/bin/celery"), "-A", "tracker", "worker", "--loglevel=INFO", "--concurrency=1"]
    celery += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    workers = [spawn([*celery, "-n", f"bench{n}@%h"], env, log) for n, log in enumerate(logs)]
    try:
        if not wait_http(port):
            return {"error": "gunicorn did not answer"}
        time.sleep(3)  # the workers connected
        Load(port, data, args.clients, 3, seed=0).run()  # warm: connections, caches, imports
        # The baseline of the same processes and moment: a trivial view under the same closed loop.
        trivial = Load(port, data, args.clients, args.seconds / 4, seed=0, trivial=True)
        t = time.perf_counter()
        trivial.run()
        trivial_rps = sum(1 for r in trivial.results if r[2] == 200) / (time.perf_counter() - t)
        load = Load(port, data, args.clients, args.seconds, seed=processes)
        load_before = os.getloadavg()
        start = time.perf_counter()
        load.run()
        elapsed = time.perf_counter() - start
        load_after = os.getloadavg()
        plan_ids = [p["id"] for p in data["plans"]]
        t = time.perf_counter()
        while not in_sync(plan_ids) and time.perf_counter() - t < 120:
            time.sleep(0.2)
        drained = time.perf_counter() - t
        synced = in_sync(plan_ids)
        time.sleep(3)  # a coalesced recompute queued at the end finishes and logs
    finally:
        stop(web)
        for worker in workers:
            stop(worker)
    ok = [r for r in load.results if 200 <= r[2] < 300]
    latencies = sorted(r[1] for r in ok)
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [float("nan")] * 99
    by_kind = {}
    for kind in sorted({r[0] for r in ok}):
        times = sorted(r[1] for r in ok if r[0] == kind)
        by_kind[kind] = (len(times), statistics.median(times))
    return {
        "processes": processes,
        "requests": len(ok),
        "errors": len(load.results) - len(ok),
        "rps": len(ok) / elapsed,
        "writes": sum(1 for r in ok if r[0] == "write"),
        "p50": quantiles[49],
        "p95": quantiles[94],
        "by_kind": by_kind,
        "trivial_rps": trivial_rps,
        "expected": len(FELL_BACK.findall(web_log.read_text(errors="replace"))),
        "recomputes": sum(len(TASK_DONE.findall(log.read_text(errors="replace"))) for log in logs),
        "in_sync": synced,
        "drain": drained,
        "load": (load_before, load_after),
    }


def report(results: list[dict], args) -> None:
    print(
        f"\nscale-out: {args.plans} plan(s) at scale {args.scale:g}, {args.clients} client threads, "
        f"{args.seconds:g} s each, {int(WRITE_SHARE * 100)}% writes; {os.cpu_count()} cores"
    )
    print(
        f"{'config':<22}{'req/s':>8}{'healthz/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'writes':>8}"
        f"{'recomputes':>12}{'in sync':>9}{'load 1m':>9}"
    )
    for r in results:
        if "error" in r:
            print(f"{r.get('processes', '?')} + {r.get('processes', '?')}: {r['error']}")
            continue
        label = f"{r['processes']} web + {r['processes']} worker"
        recomputes = f"{r['recomputes']}/{r['expected']}"
        print(
            f"{label:<22}{r['rps']:>8.1f}{r['trivial_rps']:>10.1f}{r['p50'] * 1000:>9.0f}{r['p95'] * 1000:>9.0f}"
            f"{r['errors']:>8}{r['writes']:>8}{recomputes:>12}{'yes' if r['in_sync'] else 'NO':>9}"
            f"{r['load'][1][0]:>9.2f}"
        )
        kinds = ", ".join(f"{k} {n} at {m * 1000:.0f} ms" for k, (n, m) in r["by_kind"].items())
        print(f"{'':<22}median by kind: {kinds}; drained {r['drain']:.1f} s after the load")
    if results and all("rps" in r for r in results):
        ones, twos = [r for r in results if r["processes"] == 1], [r for r in results if r["processes"] == 2]
        ratio = statistics.mean(r["rps"] for r in twos) / statistics.mean(r["rps"] for r in ones)
        trivial = statistics.mean(r["trivial_rps"] for r in twos) / statistics.mean(r["trivial_rps"] for r in ones)
        print(
            f"throughput 2/1 (mixed load, against the mean of both 1 + 1 runs): {ratio:.2f}x, target 1.8x: "
            f"{'met' if ratio >= 1.8 else 'not met'}; a trivial view's 2/1 in the same runs: {trivial:.2f}x "
            "(what this machine leaves a second process)"
        )
    print(
        "recomputes: whole-plan runs by the workers / writes that fell back to the whole plan (a measurement "
        "write applies in-process, incremental; coalescing may merge fallbacks). in sync: every plan ended "
        "computed at its data revision, so no write was lost."
    )
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.05, help="generate_scale_data scale of each plan")
    parser.add_argument("--plans", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8, help="load generator threads")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark builds a throwaway database on it).")
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"scaleout-bench-{os.getpid()}"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_port = free_port()
    redis = spawn(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
        log_dir / "redis.log",
    )
    connection.settings_dict["TEST"]["NAME"] = "bench_scaleout"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        print(f"building {args.plans} plan(s) at scale {args.scale:g}", file=sys.stderr)
        data = fixtures(args.plans, args.scale)
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DJANGO_SETTINGS_MODULE": "tracker.settings.test",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "API_THROTTLE_RATE": "1000000/minute",
        }
        connection.close()
        results = []
        # 1, 2, 1: the other load on a shared machine drifts; the ratio takes the mean of the two 1 + 1 runs.
        for round_, processes in enumerate((1, 2, 1)):
            print(f"load on {processes} web + {processes} worker", file=sys.stderr)
            results.append(run_config(processes, data, env, args, log_dir, round_))
        report(results, args)
        print(f"logs: {log_dir}")
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        stop(redis)


if __name__ == "__main__":
    main()
