"""The benchmark: accept, delivery, bulk, triggers, reads and memory, each against a baseline measured in the same run.

    .venv/bin/python -m bench [--quick] [--profile]      (or: make bench)

Starts (and always stops) gunicorn, Celery workers and a loopback Twilio fake on 127.0.0.1, against its own
PostgreSQL database and Redis databases (BENCH_DATABASE_URL, BENCH_REDIS_URL, BENCH_BROKER_URL), prints one
table and writes bench/results/bench-<time>.json. `--profile` also records py-spy profiles of a web worker
during the accept run and of the Celery workers during delivery (bench/results/*.txt, collapsed stacks).
"""

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import triggers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notif_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
WEB_WORKERS = int(os.environ.get("BENCH_WEB_WORKERS", "2"))
CELERY_CONCURRENCY = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SID, TOKEN, FROM = "AC" + "0" * 32, "test-auth-token", "+15005550006"
CONTEXT = {"product": "Acme", "code": "123456"}
USERS = 100_000  # preferences with phone numbers; the bulk run sends to all of them
ACCEPT_USERS = 1000  # the accept run cycles over these
READ_USER = 1
ACCEPT_ROUNDS = 5  # the accept time is split into this many alternating rounds of baseline and ours
BIG = "1000000000"  # rate limits out of the way (the middleware still runs and counts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


class Processes:
    """Every process the benchmark starts, each in its own group, all stopped on exit whatever happens."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], log: str, env: dict[str, str]) -> subprocess.Popen:
        out = (RESULTS / log).open("w")
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen, timeout: float = 15) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.started):
            self.stop(process)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g}s waiting for {what}")


def wrk(url: str, *, seconds: int, method: str = "GET", body: str | None = None, key: str = "",
        rate: float = 0, connections: int = CONNECTIONS) -> dict[str, Any]:
    """One wrk run (one thread: the cheapest load generator on a shared 2-core machine)."""
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_KEY": key, "BENCH_RATE": str(rate),
           "BENCH_THREADS": "1", "BENCH_USERS": str(ACCEPT_USERS)}
    if body:
        env["BENCH_BODY"] = body
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                          "-s", str(ROOT / "bench" / "wrk" / "load.lua"), url],
                         env=env, capture_output=True, text=True, timeout=seconds + 30)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result: {out.stdout}\n{out.stderr}")
    result = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = result["duration_us"] / 1e6
    errors = sum(result[k] for k in result if k.startswith("errors_"))
    return {"rps": round((result["requests"] - errors) / seconds_run, 1), "requests": result["requests"],
            "errors": errors, "p50_ms": result["p50_us"] / 1000, "p95_ms": result["p95_us"] / 1000,
            "p99_ms": result["p99_us"] / 1000, "seconds": seconds_run, "connections": connections,
            "rate_asked": rate or None}


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one side as one figure: rate over the summed time, median latencies, CPU per request."""
    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    requests, errors = sum(r["requests"] for r in runs), sum(r["errors"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {"rps": round((requests - errors) / seconds, 1), "requests": requests, "errors": errors,
            "seconds": round(seconds, 1), "connections": runs[0]["connections"], "rounds": len(runs),
            **{f"p{p}_ms": median([r[f"p{p}_ms"] for r in runs]) for p in (50, 95, 99)},
            "cpu_ms_per_request": round(sum(r["cpu_ms_per_request"] * r["requests"] for r in runs) / max(1, requests), 2)}


class PySpy:
    """py-spy recording one process (and its children) into bench/results, when --profile asks."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and shutil.which("py-spy", path=str(Path(PYTHON).parent)) is not None
        self.running: list[subprocess.Popen] = []

    def record(self, pid: int, name: str, seconds: int, subprocesses: bool = False) -> None:
        if not self.enabled:
            return
        args = [str(Path(PYTHON).parent / "py-spy"), "record", "-p", str(pid), "-d", str(seconds), "-r", "200",
                "-f", "raw", "-o", str(RESULTS / f"profile-{name}.txt"), "--nonblocking"]
        if subprocesses:
            args.append("--subprocesses")
        self.running.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def wait(self) -> None:
        for process in self.running:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running.clear()


def prepare_database(env: dict[str, str]) -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def seed() -> str:
    """Empty tables, 100,000 users with phone numbers, an SMS template, and a key. Returns the key."""
    import redis
    from django.db import connection

    from apikeys_app.services import api_key_create
    from templates_app.services import template_create

    redis.Redis.from_url(REDIS_URL).flushdb()
    redis.Redis.from_url(BROKER_URL).flushdb()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notification_logs, user_devices, user_preferences, "
                       "notification_template_versions, notification_templates RESTART IDENTITY CASCADE")
        cursor.execute("DELETE FROM api_keys")
        cursor.execute(
            "INSERT INTO user_preferences (user_id, email_enabled, sms_enabled, push_enabled, timezone, email,"
            " phone_number, created_at, updated_at) SELECT g, true, true, true, 'UTC', 'user' || g || '@example.com',"
            " '+1415' || lpad(g::text, 7, '0'), now(), now() FROM generate_series(1, %s) g", [USERS])
        cursor.execute("ANALYZE user_preferences")
    template_create(name="bench_sms", type="sms", body="Your {{ product }} code is {{ code }}.",
                    variables={"product": "Acme", "code": "1"})
    _, key = api_key_create(name="bench", scopes=["send", "read", "manage"])
    return key


def insert_read_logs() -> None:
    """A page's worth (and more) of logs for the reads, each with its template."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notification_logs (user_id, template_id, template_name, template_version, type, status,"
            " priority, recipient, subject, body, html_body, provider, provider_message_id, attempts, client,"
            " created_at, updated_at) SELECT %s, t.id, t.name, 1, 'sms', 'sent', 'normal', '+14150000001', '',"
            " 'Your Acme code is 123456.', '', 'twilio', 'SM' || g, 1, 'bench', now(), now()"
            " FROM generate_series(1, 200) g, notification_templates t WHERE t.name = 'bench_sms'", [READ_USER])


def count_queries(key: str) -> dict[str, dict[int, int]]:
    """SQL queries per read at page sizes 10, 50 and 100 (test client in this process, same database)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}")
    counts: dict[str, dict[int, int]] = {"rest": {}, "graphql": {}}
    for size in (10, 50, 100):
        with CaptureQueriesContext(connection) as rest:
            assert client.get(f"/api/v1/notifications/?user_id={READ_USER}&size={size}").status_code == 200
        with CaptureQueriesContext(connection) as graphql:
            assert client.post("/graphql/", graphql_body(size), content_type="application/json").status_code == 200
        counts["rest"][size], counts["graphql"][size] = len(rest), len(graphql)
    return counts


def graphql_body(size: int = 50) -> str:
    query = ("query($u: Int!, $p: PaginationInput) { userNotifications(userId: $u, pagination: $p) {"
             " items { id status type createdAt templateName template { id name type } }"
             " pagination { total page size pages } } }")
    return json.dumps({"query": query, "variables": {"u": READ_USER, "p": {"page": 1, "size": size}}})


def settle_database() -> None:
    """VACUUM ANALYZE the log table between phases: the rows one phase wrote must not draw autovacuum
    into the next phase's measurement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) notification_logs")


def sql_batch_insert(rows: int) -> float:
    """The database's own rate: the same rows in one INSERT ... SELECT (then removed)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            "INSERT INTO notification_logs (user_id, template_id, template_name, template_version, type, status,"
            " priority, recipient, subject, body, html_body, provider, provider_message_id, attempts, client,"
            " batch_id, queued_at, created_at, updated_at)"
            " SELECT g, t.id, t.name, 1, 'sms', 'pending', 'normal', '+1415' || lpad(g::text, 7, '0'), '',"
            " 'Your Acme code is 123456.', '', '', '', 0, 'bench', gen_random_uuid(), now(), now(), now()"
            " FROM generate_series(1, %s) g, notification_templates t WHERE t.name = 'bench_sms'", [rows])
        elapsed = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM notification_logs WHERE client = 'bench' AND status = 'pending'")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short runs (10 s, 5,000 deliveries, 20,000 bulk)")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles into bench/results/")
    parser.add_argument("--skip", default="",
                        help="comma-separated phases to skip: accept,reads,delivery,bulk,triggers")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk (Debian/Ubuntu)", file=sys.stderr)
        return 2
    skip = set(filter(None, options.skip.split(",")))
    accept_seconds = 10 if options.quick else 30
    read_seconds = 5 if options.quick else 15
    deliveries = 5_000 if options.quick else 20_000
    bulk_users = 20_000 if options.quick else USERS
    RESULTS.mkdir(parents=True, exist_ok=True)

    fake_port, web_port = free_port(), free_port()
    fake_url, web = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{web_port}"
    providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                          "OPTIONS": {"account_sid": SID, "auth_token": TOKEN, "from_number": FROM,
                                      "base_url": fake_url}}]}
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL,
           "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": BROKER_URL, "CACHE_KEY_PREFIX": "notif-bench",
           "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver", "LOG_LEVEL": "WARNING",
           "NOTIFICATION_PROVIDERS": json.dumps(providers), "PYTHONPATH": str(ROOT),
           **{f"RATELIMIT_{group}_PER_{period}": BIG for group in ("SEND", "READ", "MANAGE")
              for period in ("MINUTE", "HOUR")}}
    os.environ.update(env)
    prepare_database(env)
    import django

    django.setup()
    from django.db import connection

    from logs_app.models import NotificationLog

    processes, spy = Processes(), PySpy(options.profile)
    results: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "cpu": _cpu_model(), "python": platform.python_version(),
                    "postgres": _postgres_version(), "kernel": platform.release()},
        "setup": {"gunicorn": f"{WEB_WORKERS} sync workers", "celery": f"prefork, concurrency {CELERY_CONCURRENCY}",
                  "load_generator": "wrk -t1 (Lua script bench/wrk/load.lua)", "connections": CONNECTIONS},
    }
    try:
        key = seed()
        processes.start([PYTHON, "-m", "bench.fake_twilio", str(fake_port)], "fake.log", env)
        wait_until(lambda: socket.create_connection(("127.0.0.1", fake_port), timeout=0.2).close() or True,
                   15, "the Twilio fake")
        gunicorn = processes.start(
            [str(Path(PYTHON).parent / "gunicorn"), "notifications_project.wsgi", "--bind", f"127.0.0.1:{web_port}",
             "--workers", str(WEB_WORKERS), "--worker-class", "sync", "--backlog", "2048",
             "--log-level", "warning"], "gunicorn.log", env)
        wait_until(lambda: httpx.get(f"{web}/health/live").status_code == 200, 30, "gunicorn")
        headers = {"Authorization": f"Api-Key {key}"}
        body = json.dumps({"user_id": 0, "template_name": "bench_sms", "context": CONTEXT}).replace(
            '"user_id": 0', '"user_id": {user}')

        if "accept" not in skip:
            # A running service has its users' preferences in the shared cache; so does the measured one.
            from preferences_app.services import preference_get_or_create

            for user_id in range(1, ACCEPT_USERS + 1):
                preference_get_or_create(user_id=user_id)
            # Warm both paths in every worker (imports, connections, compiled templates) before measuring.
            wrk(f"{web}/bench/baseline/", seconds=2, method="POST", body=body)
            wrk(f"{web}/api/v1/notifications/", seconds=2, method="POST", body=body, key=key)
            # The machine is shared: alternate short rounds of baseline and ours, so a slow spell hits both.
            workers = children(gunicorn.pid)
            if workers:
                spy.record(workers[0], "accept-web", min(20, accept_seconds))
            rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "ours": []}
            for _ in range(ACCEPT_ROUNDS):
                for side, url, key_used in (("baseline", f"{web}/bench/baseline/", ""),
                                            ("ours", f"{web}/api/v1/notifications/", key)):
                    cpu = cpu_seconds(workers)
                    run = wrk(url, seconds=accept_seconds // ACCEPT_ROUNDS, method="POST", body=body, key=key_used)
                    run["cpu_ms_per_request"] = (cpu_seconds(workers) - cpu) * 1000 / max(1, run["requests"])
                    rounds[side].append(run)
            baseline, ours = combine(rounds["baseline"]), combine(rounds["ours"])
            spy.wait()
            # Latency at half of our peak, and the bare view's at the same rate: how much of the tail is the machine.
            half = wrk(f"{web}/api/v1/notifications/", seconds=accept_seconds, method="POST", body=body, key=key,
                       rate=round(ours["rps"] / 2))
            half_baseline = wrk(f"{web}/bench/baseline/", seconds=accept_seconds, method="POST", body=body,
                                rate=round(ours["rps"] / 2))
            results["accept"] = {"baseline": baseline, "ours": ours, "half_peak": half, "rounds": rounds,
                                 "half_peak_baseline": half_baseline,
                                 "fraction": round(ours["rps"] / baseline["rps"], 3)}

        if "reads" not in skip:
            insert_read_logs()
            wrk(f"{web}/api/v1/notifications/?user_id={READ_USER}&size=50", seconds=2, key=key)
            rest = wrk(f"{web}/api/v1/notifications/?user_id={READ_USER}&size=50", seconds=read_seconds, key=key)
            graphql = wrk(f"{web}/graphql/", seconds=read_seconds, method="POST", body=graphql_body(), key=key)
            results["reads"] = {"rest": rest, "graphql": graphql, "queries": count_queries(key)}

        # Sends accepted so far are not part of the delivery run: drop their queue messages.
        import redis

        redis.Redis.from_url(BROKER_URL).flushdb()
        if "delivery" not in skip:
            settle_database()
            worker = processes.start(
                [PYTHON, "-m", "celery", "-A", "notifications_project", "worker", "--concurrency",
                 str(CELERY_CONCURRENCY), "--pool", "prefork", "--without-heartbeat", "--without-mingle",
                 "--without-gossip", "--loglevel", "WARNING"], "celery.log", env)
            from notifications_project.celery import app as celery_app

            wait_until(lambda: bool(celery_app.control.ping(timeout=0.5)), 30, "the Celery worker")
            user_ids = list(range(1, deliveries + 1))
            started = time.time()
            answer = httpx.post(f"{web}/api/v1/notifications/bulk/", headers=headers, timeout=120, json={
                "user_ids": user_ids, "template_name": "bench_sms", "context": CONTEXT})
            answer.raise_for_status()
            batch_id = answer.json()["batch_id"]
            spy.record(worker.pid, "delivery-celery", 15 if not options.quick else 5, subprocesses=True)
            sent = NotificationLog.objects.filter(batch_id=batch_id, status="sent")
            wait_until(lambda: sent.count() >= deliveries, 300, "every delivery", interval=0.5)
            spy.wait()
            last = max(sent.values_list("sent_at", flat=True))
            ours_seconds = last.timestamp() - started
            loop = subprocess.run([PYTHON, "-m", "bench.plain_loop", fake_url, SID, TOKEN, str(deliveries),
                                   str(CELERY_CONCURRENCY)], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=300, check=True)
            loop_seconds, loop_ok = float(loop.stdout.split()[0]), int(loop.stdout.split()[1])
            failed = NotificationLog.objects.filter(batch_id=batch_id).exclude(status="sent").count()
            results["delivery"] = {
                "messages": deliveries, "ours_per_s": round(deliveries / ours_seconds, 1),
                "ours_seconds": round(ours_seconds, 2), "not_sent": failed,
                "baseline_per_s": round(deliveries / loop_seconds, 1), "baseline_seconds": round(loop_seconds, 2),
                "baseline_ok": loop_ok, "fraction": round(loop_seconds / ours_seconds, 3)}
            pool = children(worker.pid)
            results["memory"] = {"celery_worker_rss_mib": round(max((rss_mib(p) for p in pool), default=0), 1),
                                 "celery_main_rss_mib": round(rss_mib(worker.pid), 1)}
            processes.stop(worker)

        if "bulk" not in skip:
            settle_database()
            # Workers are stopped: the bulk run measures accepting and committing, not delivering.
            web_workers = children(gunicorn.pid)
            peak = {pid: rss_mib(pid) for pid in web_workers}
            before = dict(peak)
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    for pid in web_workers:
                        with contextlib.suppress(OSError):
                            peak[pid] = max(peak[pid], rss_mib(pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            payload = json.dumps({"user_ids": list(range(1, bulk_users + 1)), "template_name": "bench_sms",
                                  "context": CONTEXT})
            started = time.perf_counter()
            answer = httpx.post(f"{web}/api/v1/notifications/bulk/", headers={**headers,
                                "Content-Type": "application/json"}, content=payload, timeout=300)
            returned = time.perf_counter() - started
            answer.raise_for_status()
            batch = NotificationLog.objects.filter(batch_id=answer.json()["batch_id"])
            wait_until(lambda: batch.count() >= bulk_users, 300, "the bulk rows", interval=0.05)
            committed = time.perf_counter() - started
            sampling.set()
            sampler.join()
            connection.close()
            db_seconds = sql_batch_insert(bulk_users)
            results["bulk"] = {
                "users": bulk_users, "returned_s": round(returned, 2), "committed_s": round(committed, 2),
                "rows_per_s": round(bulk_users / committed), "baseline_s": round(db_seconds, 2),
                "baseline_rows_per_s": round(bulk_users / db_seconds), "fraction": round(db_seconds / committed, 3),
                "web_rss_before_mib": round(max(before.values(), default=0), 1),
                "web_rss_peak_mib": round(max(peak.values(), default=0), 1)}

        if "triggers" not in skip:
            settle_database()
            triggers.seed_kind(bulk_users)
            web_workers = children(gunicorn.pid)
            runs = triggers.accept_rounds(wrk, web, key, seconds=accept_seconds, rounds=ACCEPT_ROUNDS,
                                          cpu=lambda: cpu_seconds(web_workers))
            single, trigger = combine(runs["single"]), combine(runs["trigger"])
            results["triggers"] = {"single": single, "trigger": trigger, "rounds": runs,
                                   "fraction": round(trigger["rps"] / single["rps"], 3)}
            settle_database()
            results["triggers"]["topic"] = triggers.topic_trigger(
                web, key, users=bulk_users,
                count_logs=lambda trigger_id: NotificationLog.objects.filter(trigger_id=trigger_id).count())

        results.setdefault("memory", {})["web_worker_rss_mib"] = round(
            max((rss_mib(p) for p in children(gunicorn.pid)), default=0), 1)
    finally:
        spy.wait()
        processes.stop_all()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(BROKER_URL).flushdb()
    path = RESULTS / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    print(table(results))
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


def table(results: dict[str, Any]) -> str:
    rows = [("measure", "ours", "baseline", "ours/baseline", "target")]
    if "accept" in results:
        a = results["accept"]
        rows += [
            ("accept, req/s (c=%d)" % a["ours"]["connections"], f"{a['ours']['rps']:.0f}",
             f"{a['baseline']['rps']:.0f} bare view", f"{a['fraction']:.0%}", ">= 50%"),
            ("accept p50/p95/p99 ms at peak (median round)", _lat(a["ours"]), _lat(a["baseline"]), "", ""),
            ("accept web CPU ms per request", f"{a['ours']['cpu_ms_per_request']:.2f}",
             f"{a['baseline']['cpu_ms_per_request']:.2f}", f"{a['baseline']['cpu_ms_per_request'] / a['ours']['cpu_ms_per_request']:.0%}", ""),
            ("accept p50/p99 ms at half peak (%.0f req/s)" % a["half_peak"]["rps"],
             f"{a['half_peak']['p50_ms']:.1f} / {a['half_peak']['p99_ms']:.1f}",
             f"{a['half_peak_baseline']['p50_ms']:.1f} / {a['half_peak_baseline']['p99_ms']:.1f} bare view, same rate",
             "", "p99 < 50 ms"),
            ("accept errors (peak + half)", str(a["ours"]["errors"] + a["half_peak"]["errors"]),
             str(a["baseline"]["errors"]), "", "0"),
        ]
    if "delivery" in results:
        d = results["delivery"]
        rows.append((f"delivery, msg/s ({d['messages']} SMS)", f"{d['ours_per_s']:.0f}",
                     f"{d['baseline_per_s']:.0f} plain loop", f"{d['fraction']:.0%}", ">= 50%"))
    if "bulk" in results:
        b = results["bulk"]
        rows += [
            (f"bulk {b['users']:,} users: returned / committed s", f"{b['returned_s']:.2f} / {b['committed_s']:.2f}",
             "", "", "< 10 s"),
            ("bulk rows/s committed", f"{b['rows_per_s']:,}", f"{b['baseline_rows_per_s']:,} INSERT..SELECT",
             f"{b['fraction']:.0%}", ">= 20%"),
            ("web worker RSS MiB before / peak in bulk", f"{b['web_rss_before_mib']:.0f} / {b['web_rss_peak_mib']:.0f}",
             "", "", "flat"),
        ]
    if "reads" in results:
        r = results["reads"]
        q = r["queries"]
        rows += [
            ("REST list (50), req/s", f"{r['rest']['rps']:.0f}", "", "", ""),
            ("GraphQL userNotifications+template, req/s", f"{r['graphql']['rps']:.0f}", "", "", ""),
            ("SQL queries/request at size 10/50/100",
             "REST " + "/".join(str(q["rest"][s]) for s in (10, 50, 100))
             + ", GraphQL " + "/".join(str(q["graphql"][s]) for s in (10, 50, 100)), "", "", "constant"),
        ]
    if "triggers" in results:
        rows += triggers.table_rows(results)
    m = results.get("memory", {})
    if m:
        rows.append(("RSS MiB: web worker / Celery worker", f"{m.get('web_worker_rss_mib', 0):.0f} / "
                     f"{m.get('celery_worker_rss_mib', 0):.0f}", "", "", "< 128 / < 192"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _lat(run: dict[str, Any]) -> str:
    return f"{run['p50_ms']:.1f} / {run['p95_ms']:.1f} / {run['p99_ms']:.1f}"


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def _postgres_version() -> str:
    from django.db import connection

    with contextlib.suppress(Exception):
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    return ""


if __name__ == "__main__":
    sys.exit(main())
