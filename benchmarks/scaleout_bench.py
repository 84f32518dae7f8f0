"""Scale-out benchmark of issue 12: 2 web processes + 2 Celery workers against 1 + 1, on one PostgreSQL and Redis.

    DATABASE_URL=postgres://... .venv/bin/python benchmarks/scaleout_bench.py [--scale 0.05] [--plans 2] [--seconds 20]

Builds ``--plans`` generated plans (``plans.scale_data``, as ``manage.py generate_scale_data --scale`` does) in a
throwaway database on DATABASE_URL's server and starts a Redis of its own. Each round starts gunicorn (sync workers)
and Celery workers (``--concurrency=1`` each) with 1 + 1 or 2 + 2 processes, in the order 1, 2, 1, 2 (``--rounds``)
so that drift in the machine's other load falls on both, and drives them with Debian's ``wrk`` (C, one thread,
``--connections`` keep-alive connections: a cheap generator, unlike a Python one, which took the cores the
second processes need):

- a trivial view (``/healthz``) for a quarter of ``--seconds``: what the machine gives a second process right now;
- the mixed load for ``--seconds``: 80% reads (the plan dashboard, a KPI page, the API's KPI list and a KPI detail,
  a quarter each) and 20% measurement writes over the API (each applies in-process, incremental; the fallbacks
  to the whole plan are the Celery workers' work).

For the mixed window it reads from /proc the CPU time of each component: gunicorn (master and workers), the
Celery workers (with their pool processes), the PostgreSQL backends serving this database (polled from
pg_stat_activity), Redis, wrk (its rusage), this script, and the whole machine (/proc/stat), whose remainder is
the other sessions' load. It prints requests per second per round and the ratio 2/1 (mean of the 2 + 2 rounds
over the mean of the 1 + 1 rounds), the cores each component used, the CPU time one request costs, and the
ceiling that CPU cost puts on the 2 + 2 throughput on this machine (its cores divided by the CPU seconds per
request, less what the other sessions took); with the whole-plan recomputes run against the writes that fell
back to them and whether every plan ended computed at its data revision (none lost). Nothing here asserts.
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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
    import http.client

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


LUA = """
local plans = %(plans)s
local token = "Token %(token)s"
local cookie = "%(cookie)s"
local write_share = %(write_share)s
counter, id, writes, bad = 0, 0, 0, 0  -- globals: done() reads them with thread:get
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(1000 + id)
end

function request()
  local plan = plans[math.random(#plans)]
  local kpi = plan.kpis[math.random(#plan.kpis)]
  if math.random() < write_share then
    counter = counter + 1
    writes = writes + 1
    local body = string.format(
      '{"kpi": %%d, "date": "2025-12-31", "value": %%d, "note": "scale-out bench %%d-%%d"}',
      kpi[1], 50 + counter %% 50, id, counter)
    return wrk.format("POST", "/api/v1/measurements/",
      {["Authorization"] = token, ["Content-Type"] = "application/json"}, body)
  end
  local pick = math.random(4)
  if pick == 1 then
    return wrk.format("GET", "/plans/" .. plan.slug .. "/", {["Cookie"] = cookie})
  elseif pick == 2 then
    return wrk.format("GET", "/plans/" .. plan.slug .. "/kpis/" .. kpi[2] .. "/", {["Cookie"] = cookie})
  elseif pick == 3 then
    return wrk.format("GET", "/api/v1/kpis/?plan=" .. plan.id, {["Authorization"] = token})
  end
  return wrk.format("GET", "/api/v1/kpis/" .. kpi[1] .. "/", {["Authorization"] = token})
end

function response(status, headers, body)
  if status < 200 or status >= 300 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local w, b = 0, 0
  for _, thread in ipairs(threads) do
    w = w + thread:get("writes")
    b = b + thread:get("bad")
  end
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "seconds": %%f, "not_2xx": %%d, "socket_errors": %%d, "writes": %%d, '
    .. '"p50": %%f, "p99": %%f}\\n',
    summary.requests, summary.duration / 1e6, b,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    w, latency:percentile(50) / 1e6, latency:percentile(99) / 1e6))
end
"""
TRIVIAL_LUA = (
    LUA.split("function request()")[0]
    + """
function request()
  return wrk.format("GET", "/healthz")
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end
"""
    + "function done"
    + LUA.split("function done")[1]
)


def lua_script(data: dict, log_dir: Path) -> tuple[Path, Path]:
    plans_ = data["plans"]

    def kpis(plan) -> str:
        return ", ".join(f"{{{kpi_id}, {json.dumps(code)}}}" for kpi_id, code in plan["kpis"])

    plans = ", ".join(f"{{id = {p['id']}, slug = {json.dumps(p['slug'])}, kpis = {{{kpis(p)}}}}}" for p in plans_)
    values = {"plans": "{" + plans + "}", "token": data["token"], "cookie": data["cookie"], "write_share": WRITE_SHARE}
    mixed, trivial = log_dir / "mixed.lua", log_dir / "trivial.lua"
    mixed.write_text(LUA % values)
    trivial.write_text(TRIVIAL_LUA % values)
    return mixed, trivial


# CPU time from /proc: a process's utime + stime (seconds) and its start time (ticks after boot).


def proc_stat(pid: int) -> tuple[int, float, int] | None:
    """(parent pid, CPU seconds so far, start time in ticks), or None once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(fields[19])


def tree(root: int) -> set[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := proc_stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo += children.get(pid, [])
    return found


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / CLOCK_TICKS


def boot_ticks_now() -> int:
    return int(float(Path("/proc/uptime").read_text().split()[0]) * CLOCK_TICKS)


class CpuMeter:
    """CPU seconds each component spends between ``start()`` and ``stop()``; PostgreSQL backends are polled
    (``poll()``) so that one which starts and ends in the window is counted too."""

    def __init__(self, components: dict[str, list[int]], database: str):
        self.roots, self.database = components, database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.owner: dict[int, str] = {}

    def _read(self, pid: int, component: str) -> None:
        stat = proc_stat(pid)
        if stat is None:
            return
        self.owner[pid] = component
        if pid not in self.first:
            # A process first seen now: all of its time counts if it started in the window.
            self.first[pid] = stat[1] if stat[2] < self.started_ticks else 0.0
        self.last[pid] = stat[1]

    def _backends(self) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
            )
            return [row[0] for row in cursor.fetchall()]

    def poll(self) -> None:
        for component, roots in self.roots.items():
            for root in roots:
                for pid in tree(root):
                    self._read(pid, component)
        for pid in self._backends():
            self._read(pid, "postgres")

    def start(self) -> None:
        self.started_ticks = boot_ticks_now()
        self.wall = time.monotonic()
        self.machine = machine_busy()
        self.self_usage = resource.getrusage(resource.RUSAGE_SELF)
        self.poll()

    def stop(self) -> dict[str, float]:
        self.poll()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        spent: dict[str, float] = {}
        for pid, component in self.owner.items():
            spent[component] = spent.get(component, 0.0) + self.last[pid] - self.first[pid]
        spent["bench script"] = (usage.ru_utime + usage.ru_stime) - (
            self.self_usage.ru_utime + self.self_usage.ru_stime
        )
        spent["machine"] = machine_busy() - self.machine
        spent["wall"] = time.monotonic() - self.wall
        return spent


def run_wrk(port: int, script: Path, args, seconds: float, meter: CpuMeter | None = None) -> dict:
    """wrk against ``port`` for ``seconds``; its RESULT line, its own CPU time (rusage) and the meter's figures."""
    command = ["wrk", "-t", "1", "-c", str(args.connections), "-d", f"{max(round(seconds), 1)}s", "--timeout", "30s"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as wrk:
        if meter is not None:
            meter.start()
        while True:
            pid, status, usage = os.wait4(wrk.pid, os.WNOHANG)
            if pid:
                break
            if meter is not None:
                meter.poll()
            time.sleep(1)
        wrk.returncode = os.waitstatus_to_exitcode(status)
        cpu = meter.stop() if meter is not None else {}
        output = wrk.stdout.read()
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"error": output.strip()[-300:]}
    result = json.loads(line.removeprefix("RESULT "))
    cpu["wrk"] = usage.ru_utime + usage.ru_stime
    return {**result, "rps": (result["requests"] - result["not_2xx"]) / result["seconds"], "cpu": cpu}


def in_sync(plan_ids) -> bool:
    from plans.models import Plan

    return all(p.computed_revision == p.data_revision for p in Plan.objects.filter(pk__in=plan_ids))


def run_config(processes: int, data: dict, env: dict, args, log_dir: Path, round_: int) -> dict:
    port = free_port()
    web_log = log_dir / f"web-{round_}-{processes}.log"
    # No control socket: its default path is one per user, shared with any other gunicorn on the machine.
    gunicorn = [str(ROOT / ".venv/bin/gunicorn"), "tracker.wsgi", "--bind", f"127.0.0.1:{port}", "--no-control-socket"]
    web = spawn([*gunicorn, "--workers", str(processes)], env, web_log)
    logs = [log_dir / f"worker-{round_}-{processes}-{n}.log" for n in range(processes)]
    for log in logs:
        log.write_text("")
    celery = [str(ROOT / ".venv/bin/celery"), "-A", "tracker", "worker", "--loglevel=INFO", "--concurrency=1"]
    celery += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    workers = [spawn([*celery, "-n", f"bench{round_}-{n}@%h"], env, log) for n, log in enumerate(logs)]
    mixed, trivial = data["scripts"]
    try:
        if not wait_http(port):
            return {"processes": processes, "error": "gunicorn did not answer"}
        time.sleep(3)  # the workers connected
        run_wrk(port, mixed, args, 3)  # warm: connections, caches, imports
        # Requests wrk left queued in the listen backlog are served first (sync workers take them in order):
        # one answered /healthz means the next run starts on an idle server.
        wait_http(port, timeout=120)
        # The baseline of the same processes and moment: a trivial view under the same generator.
        baseline = run_wrk(port, trivial, args, args.seconds / 4)
        wait_http(port, timeout=120)
        meter = CpuMeter(
            {"web": [web.pid], "worker": [w.pid for w in workers], "redis": [data["redis_pid"]]},
            connection.settings_dict["NAME"],
        )
        load = run_wrk(port, mixed, args, args.seconds, meter)
        if "error" in load:
            return {"processes": processes, "error": load["error"]}
        load["load"] = os.getloadavg()
        plan_ids = [p["id"] for p in data["plans"]]
        t = time.perf_counter()
        while not in_sync(plan_ids) and time.perf_counter() - t < 120:
            time.sleep(0.2)
        load["drain"] = time.perf_counter() - t
        load["in_sync"] = in_sync(plan_ids)
        time.sleep(3)  # a coalesced recompute queued at the end finishes and logs
    finally:
        stop(web)
        for worker in workers:
            stop(worker)
    return {
        **load,
        "processes": processes,
        "trivial_rps": baseline.get("rps", float("nan")),
        "expected": len(FELL_BACK.findall(web_log.read_text(errors="replace"))),
        "recomputes": sum(len(TASK_DONE.findall(log.read_text(errors="replace"))) for log in logs),
    }


COMPONENTS = ("web", "worker", "postgres", "redis", "wrk", "bench script")


def report(results: list[dict], args) -> None:
    cores = os.cpu_count()
    print(
        f"\nscale-out: {args.plans} plan(s) at scale {args.scale:g}, wrk with {args.connections} connections, "
        f"{args.seconds:g} s each, {int(WRITE_SHARE * 100)}% writes; {cores} cores"
    )
    print("cores used during the mixed load (CPU seconds / wall seconds), from /proc:")
    print(
        f"{'round':<24}{'req/s':>7}{'healthz/s':>10}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'writes':>7}"
        + "".join(f"{c.split()[0]:>9}" for c in COMPONENTS)
        + f"{'others':>8}{'machine':>8}{'CPU ms/req':>11}{'recomp.':>8}{'sync':>5}"
    )
    for n, r in enumerate(results, 1):
        label = f"{n}: {r['processes']} web + {r['processes']} worker"
        if "error" in r:
            print(f"{label:<24} {r['error']}")
            continue
        wall = r["cpu"]["wall"]
        used = {c: r["cpu"].get(c, 0.0) / wall for c in COMPONENTS}
        ours = r["ours"] = sum(used.values())
        machine = r["cpu"]["machine"] / wall
        r["cpu_per_request"] = ours * wall / max(r["requests"] - r["not_2xx"], 1)
        r["others"] = max(machine - ours, 0.0)
        print(
            f"{label:<24}{r['rps']:>7.1f}{r['trivial_rps']:>10.1f}{r['p50'] * 1000:>8.0f}{r['p99'] * 1000:>8.0f}"
            f"{r['not_2xx'] + r['socket_errors']:>7}{r['writes']:>7}"
            + "".join(f"{used[c]:>9.2f}" for c in COMPONENTS)
            + f"{r['others']:>8.2f}{machine:>8.2f}{r['cpu_per_request'] * 1000:>11.1f}"
            f"{r['recomputes']:>4}/{r['expected']:<3}{'yes' if r['in_sync'] else 'NO':>5}"
        )
    good = [r for r in results if "error" not in r]
    ones, twos = [r for r in good if r["processes"] == 1], [r for r in good if r["processes"] == 2]
    if ones and twos:
        one, two = statistics.mean(r["rps"] for r in ones), statistics.mean(r["rps"] for r in twos)
        trivial = statistics.mean(r["trivial_rps"] for r in twos) / max(
            statistics.mean(r["trivial_rps"] for r in ones), 1e-9
        )
        print(
            f"throughput 2/1 (mixed load, mean of the 2 + 2 rounds over the mean of the 1 + 1 rounds): "
            f"{two / one:.2f}x, target 1.8x: {'met' if two / one >= 1.8 else 'not met'}; "
            f"a trivial view's 2/1 in the same rounds: {trivial:.2f}x"
        )
        cost = {n: statistics.mean(r["cpu_per_request"] for r in rs) for n, rs in ((1, ones), (2, twos))}
        used = statistics.mean(r["ours"] for r in ones)
        others = statistics.mean(r["others"] for r in good)
        print(
            f"CPU per request, all components and the generator: {cost[1] * 1000:.1f} ms with 1 + 1, "
            f"{cost[2] * 1000:.1f} ms with 2 + 2. 1 + 1 used {used:.2f} cores; 1.8x its throughput at that cost "
            f"needs {1.8 * used:.2f} cores, {2 * used:.2f} for 2x, of the {cores} here, of which the other sessions "
            f"took {others:.2f} on average: {'within' if 1.8 * used <= cores - others else 'beyond'} what is left."
        )
        # Per request, from every round: the app's costs do not depend on how many processes serve them.
        served = sum(r["requests"] - r["not_2xx"] for r in good)
        per = {c: sum(r["cpu"].get(c, 0.0) for r in good) / max(served, 1) for c in COMPONENTS}
        # This script's polling costs a fixed share of a core, not a share per request: it is taken off the cores.
        polling = statistics.mean(r["cpu"]["bench script"] / r["cpu"]["wall"] for r in good)
        total = sum(per.values()) - per["bench script"]
        bottleneck = max(per["web"], per["worker"])
        bound = min(2.0, (cores - polling) * bottleneck / total) if total else float("nan")
        print(
            "CPU ms per request by component (all rounds): "
            + ", ".join(f"{c} {per[c] * 1000:.1f}" for c in COMPONENTS)
            + f". On an idle machine 1 + 1 is bound by its one {'web' if per['web'] >= per['worker'] else 'worker'} "
            f"process (one core: {1 / bottleneck:.0f} req/s) and 2 + 2 by the {cores} cores, less this script's "
            f"{polling:.2f} ({(cores - polling) / total:.0f} req/s for all a request costs): at most {bound:.2f}x."
        )
        if others > 0.5:
            print(
                "The other sessions kept the cores busy: the scheduler then gives each runnable process a share, "
                "so 2 + 2 gets more of the machine than 1 + 1 whatever the app does, and the ratio says little."
            )
    print(
        "recomp.: whole-plan runs by the workers / writes that fell back to the whole plan (a measurement write "
        "applies in-process, incremental; coalescing may merge fallbacks). sync: every plan ended computed at its "
        "data revision, so no write was lost."
    )
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.05, help="generate_scale_data scale of each plan")
    parser.add_argument("--plans", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8, help="wrk's concurrent connections")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", default="1,2,1,2", help="processes per round, in order")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL server (the benchmark builds a throwaway database on it).")
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        sys.exit("Needs wrk (Debian: apt-get install wrk).")
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
        data["scripts"] = lua_script(data, log_dir)
        data["redis_pid"] = redis.pid
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "DJANGO_SETTINGS_MODULE": "tracker.settings.test",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "API_THROTTLE_RATE": "1000000/minute",
        }
        results = []
        # Alternating rounds: the other load on a shared machine drifts, and the ratio takes the mean of each.
        for round_, processes in enumerate(int(n) for n in args.rounds.split(",")):
            print(f"round {round_ + 1}: {processes} web + {processes} worker", file=sys.stderr)
            results.append(run_config(processes, data, env, args, log_dir, round_))
        report(results, args)
        print(f"logs: {log_dir}")
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
        stop(redis)


if __name__ == "__main__":
    main()
