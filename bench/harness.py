"""The benchmark's machinery: the processes it starts, wrk runs, CPU and memory readings, and the database it fills."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
        rate: float = 0, connections: int = CONNECTIONS, authorization: str = "") -> dict[str, Any]:
    """One wrk run (one thread: the cheapest load generator on a shared 2-core machine); `authorization`,
    when given, is the whole Authorization header instead of the API key's."""
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_KEY": key, "BENCH_RATE": str(rate),
           "BENCH_AUTHORIZATION": authorization,
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
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:  # the floor's table (bench/floor/)
        conn.execute("DROP TABLE IF EXISTS bench_floor_logs")
        conn.execute("CREATE TABLE bench_floor_logs (LIKE notification_logs INCLUDING ALL)")


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
