"""The delivery log at scale: fill N million logs, then time each operation of issue #15's table.

    .venv/bin/python -m bench.scale [--rows 10000000] [--repeat 5] [--period month|week]  (or: make bench-scale)

Works in its own PostgreSQL database (BENCH_SCALE_DATABASE_URL, default notif_bench_scale_logs, emptied and
filled again each run) and Redis databases (BENCH_SCALE_REDIS_URL, BENCH_SCALE_BROKER_URL); requests go
through Django's test client in this process (the whole middleware stack, no HTTP server), the export runs
as `manage.py export_user_data` in a process of its own so that its peak RSS is its own. Prints one table and
writes bench/results/scale-<time>.json. BENCH_SCALE_TABLESPACE names a tablespace to make both databases in (the
retention's drop is the filesystem's work: see the README's Performance section).
"""

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import scale_fill
from bench.harness import BIG, PYTHON, RESULTS, ROOT
from bench.scale_report import table

DATABASE_URL = os.environ.get("BENCH_SCALE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notif_bench_scale_logs")
REDIS_URL = os.environ.get("BENCH_SCALE_REDIS_URL", "redis://127.0.0.1:6379/13")
BROKER_URL = os.environ.get("BENCH_SCALE_BROKER_URL", "redis://127.0.0.1:6379/14")
METRICS_TOKEN = "bench-scale-metrics-token"
ACCEPT_USERS = 200
HEAVY_PAGE, HEAVY_SIZE = 500, 20
WARM_SENDS = 50
ACCEPT_ROUNDS = 10
# The accept comparison's empty twin of the filled database.
EMPTY_DATABASE_URL = DATABASE_URL + "_empty"
# A tablespace to make the databases in (optional): to time the retention on another filesystem than the cluster's.
TABLESPACE = os.environ.get("BENCH_SCALE_TABLESPACE", "")

def environment() -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL, "CELERY_BROKER_URL": BROKER_URL, "CACHE_KEY_PREFIX": "notif-bench-scale",
            "DEBUG": "false", "ALLOWED_HOSTS": "testserver,localhost", "LOG_LEVEL": "WARNING",
            "METRICS_TOKEN": METRICS_TOKEN, "PYTHONPATH": str(ROOT),
            # The fill and the commands share this process's connection with the API requests: no API time limit.
            "DATABASE_STATEMENT_TIMEOUT_MS": "0",
            **{f"RATELIMIT_{group}_PER_{period}": BIG for group in ("SEND", "READ", "MANAGE")
               for period in ("MINUTE", "HOUR")}}


def prepare_database(env: dict[str, str], url: str = DATABASE_URL) -> None:
    """A fresh database, migrated."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TABLESPACE "{TABLESPACE}"' if TABLESPACE else ""))
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env={**env, "DATABASE_URL": url},
                   check=True)


@contextlib.contextmanager
def on_database(url: str) -> Iterator[None]:
    """This process's default connection on another database of the same server for a while."""
    from django.db import connection

    name = connection.settings_dict["NAME"]
    connection.close()
    connection.settings_dict["NAME"] = url.rsplit("/", 1)[1]
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name


def timed(action: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Run `action` once to warm up, then `repeat` times: p50 and max in milliseconds."""
    action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def ok(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")
    if getattr(response, "streaming", False):
        for _ in response.streaming_content:
            pass


def seed() -> tuple[str, Any]:
    """The accept run's template and users, an API key, an admin. Returns (key, admin user)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apikeys_app.services import api_key_create
    from templates_app.services import template_create

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO user_preferences (user_id, email_enabled, sms_enabled, push_enabled, timezone, email,"
            " phone_number, created_at, updated_at) SELECT g, true, true, true, 'UTC', 'user' || g || '@example.com',"
            " '+1415' || lpad(g::text, 7, '0'), now(), now() FROM generate_series(2, %s) g", [ACCEPT_USERS + 1])
    template_create(name="bench_sms", type="sms", body="Your {{ product }} code is {{ code }}.",
                    variables={"product": "Acme", "code": "1"})
    _, key = api_key_create(name="bench-scale", scopes=["send", "read", "manage"])
    admin = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench-scale-password")
    return key, admin


def accept_compare(client, keys: dict[str, str], sends: int) -> dict[str, dict[str, float]]:
    """Single sends through the API, each to the next of the accept users (2 and on: user 1's data is erased),
    on the filled database ("full") and on its twin, migrated and seeded alike but without the fill ("empty"):
    ACCEPT_ROUNDS rounds that alternate between the two, so that both see the machine as it is at the time,
    after WARM_SENDS untimed sends on each. p50 and max of each database's sends, in milliseconds."""
    users = iter(range(10**9))

    def send(key: str) -> float:
        user_id = next(users) % ACCEPT_USERS + 2
        started = time.perf_counter()
        response = client.post("/api/v1/notifications/", {"user_id": user_id, "template_name": "bench_sms",
                                "context": {"product": "Acme", "code": "1"}}, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Api-Key {key}")
        if response.status_code != 202:
            raise RuntimeError(f"accept answered {response.status_code}: {response.content[:300]!r}")
        return (time.perf_counter() - started) * 1000

    databases = {"empty": EMPTY_DATABASE_URL, "full": DATABASE_URL}
    times: dict[str, list[float]] = {name: [] for name in databases}
    for round_ in range(-1, ACCEPT_ROUNDS):
        for name, url in databases.items():
            with on_database(url):
                if round_ < 0:
                    for _ in range(WARM_SENDS):
                        send(keys[name])
                else:
                    send(keys[name])  # untimed: it connects again
                    times[name] += [send(keys[name]) for _ in range(max(1, sends // ACCEPT_ROUNDS))]
    return {name: {"p50_ms": round(statistics.median(runs), 2), "max_ms": round(max(runs), 1)}
            for name, runs in times.items()}


def reads(client, key: str, repeat: int, heavy: int) -> dict[str, dict]:
    from django.db import connection

    api = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    metrics = {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"}
    changelist = "/admin/logs_app/notificationlog/"
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM notification_logs")
        newest = cursor.fetchone()[0]
    return {
        "admin list": timed(lambda: ok(client.get(changelist)), repeat),
        "admin search, user id": timed(lambda: ok(client.get(changelist, {"q": str(heavy)})), repeat),
        "admin search, recipient": timed(lambda: ok(client.get(changelist, {"q": "user77@example.com"})), repeat),
        "admin filter, failed": timed(lambda: ok(client.get(changelist, {"status__exact": "failed"})), repeat),
        "admin detail": timed(lambda: ok(client.get(f"{changelist}{newest}/change/")), repeat),
        "REST list, page 1": timed(lambda: ok(client.get("/api/v1/notifications/", {"size": 50}, **api)), repeat),
        "REST list, heavy user, page 500": timed(lambda: ok(client.get(
            "/api/v1/notifications/", {"user_id": heavy, "page": HEAVY_PAGE, "size": HEAVY_SIZE}, **api)), repeat),
        "delivery dashboard": timed(lambda: ok(client.get("/admin/delivery/")), repeat),
        "/metrics scrape": timed(lambda: ok(client.get("/metrics", **metrics)), repeat),
    }


def export(env: dict[str, str], user_id: int) -> dict[str, Any]:
    """The export command in its own process, to /dev/null: seconds and that process's peak RSS."""
    started = time.monotonic()
    process = subprocess.Popen([PYTHON, "manage.py", "export_user_data", str(user_id), "-o", os.devnull],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        raise RuntimeError(f"export_user_data exited with {status}")
    return {"seconds": round(time.monotonic() - started, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)}


def erase(user_id: int) -> dict[str, Any]:
    """The erasure in batches; each batch's time is from one batch's locking SELECT to the next's."""
    from django.db import connection

    from logs_app.privacy import user_data_erase

    starts: list[float] = []

    def watch(execute, sql, params, many, context):
        if "FOR UPDATE" in sql:
            starts.append(time.perf_counter())
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        position, _ = scale_fill.wal_bytes(cursor)
    with connection.execute_wrapper(watch):
        started = time.perf_counter()
        result = user_data_erase(user_id=user_id)
        ended = time.perf_counter()
    with connection.cursor() as cursor:
        _, wal = scale_fill.wal_bytes(cursor, position)
    batches = [b - a for a, b in zip(starts, [*starts[1:], ended])]
    return {"seconds": round(ended - started, 2), "logs": result.logs_anonymised, "batches": len(batches),
            "batch_max_ms": round(max(batches, default=0) * 1000, 1),
            "batch_p50_ms": round(statistics.median(batches) * 1000, 1) if batches else 0, "wal_mib": round(wal / 2**20, 1)}


def purge(days: int) -> dict[str, Any]:
    """`purge_logs --older-than DAYS` twice: the month it deletes, then a run that finds nothing."""
    from django.db import connection

    from logs_app.privacy import logs_purge

    runs = []
    for _ in range(2):
        with connection.cursor() as cursor:
            position, _ = scale_fill.wal_bytes(cursor)
        started = time.perf_counter()
        result = logs_purge(older_than_days=days, batch_size=1000)
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            _, wal = scale_fill.wal_bytes(cursor, position)
        runs.append({"seconds": round(seconds, 2), "deleted": result.total, "wal_mib": round(wal / 2**20, 1)})
    return {"first": runs[0], "second": runs[1]}


def partitions_layout(period: str, now: dt.datetime) -> int:
    """Partitions of `period` over the fill's 90 days and two periods ahead, for the log and its calls, in place of
    the migrations' (which hold everything before next month in one). Returns how many bounded partitions the log
    has."""
    from django.db import connection

    from logs_app.partitions import TABLES, partitions_create_ahead, partitions_list, period_after, period_start

    with connection.cursor() as cursor:
        for table in TABLES:
            for part in partitions_list(table):
                cursor.execute(f"DROP TABLE {part.name}")
            cursor.execute(f"CREATE TABLE {table.held} PARTITION OF {table.name} DEFAULT")
    first = period_start(now - dt.timedelta(days=scale_fill.DAYS), period)
    periods, start = 0, first
    while start <= now:
        start, periods = period_after(start, period), periods + 1
    return len(partitions_create_ahead(now=first, ahead=periods + 1, period=period)) // len(TABLES)


def retire(days: int) -> dict[str, Any]:
    """`log_partitions --retention-days DAYS`' retirement: the partitions wholly older than DAYS days."""
    from django.db import connection

    from logs_app.partitions import LOG
    from logs_app.retirement import partitions_retire

    def calls() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM notification_provider_calls")
            return cursor.fetchone()[0]

    calls_before = calls()
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # the erase before it wrote gigabytes: let them reach the disk first
        position, _ = scale_fill.wal_bytes(cursor)
    started = time.perf_counter()
    retired = partitions_retire(now=dt.datetime.now(dt.timezone.utc), retention_days=days).retired
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        _, wal = scale_fill.wal_bytes(cursor, position)
    logs = [part for part in retired if part.table is LOG]
    calls_parts = [part for part in retired if part.table is not LOG]
    return {"seconds": round(seconds, 2), "partitions": len(logs), "logs": sum(part.rows for part in logs),
            "calls_partitions": len(calls_parts), "calls": calls_before - calls(),
            "held": sum(part.held for part in logs), "wal_kib": round(wal / 2**10, 1),
            "locked_ms": round(max((part.locked_seconds for part in logs), default=0) * 1000, 1),
            "calls_locked_ms": round(max((part.locked_seconds for part in calls_parts), default=0) * 1000, 1),
            "dropped_seconds": round(sum(part.dropped_seconds or 0 for part in retired), 2)}


def rollup_timings() -> dict[str, float]:
    """Filling the rollup from the logs (as the migration does) and checking the last 48 hours."""
    from django.core.management import call_command

    from logs_app.rollup import counts_compare, counts_rebuild, hour_of, log_span

    started = time.perf_counter()
    first, last = log_span()
    counts_rebuild(first, last + dt.timedelta(hours=1), step=last + dt.timedelta(hours=1) - first)
    rebuilt = time.perf_counter() - started
    started = time.perf_counter()
    call_command("log_counts_check", "--hours", "48", stdout=io.StringIO())
    checked = time.perf_counter() - started
    assert not counts_compare(None, hour_of(last) + dt.timedelta(hours=1))
    return {"fill_seconds": round(rebuilt, 2), "check_48h_seconds": round(checked, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="logs to fill (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each read (after one warm-up)")
    parser.add_argument("--accepts", type=int, default=200, help="single sends timed on each of the empty and the full table")
    parser.add_argument("--period", choices=("month", "week"),
                        help="lay the log out in partitions of this period first, and time their retirement "
                             "(PostgreSQL's migrated layout otherwise: one partition before next month)")
    parser.add_argument("--reads-only", action="store_true",
                        help="time the reads only, and leave the filled database as it is for a closer look "
                             "(no accept comparison, export, erase, retention or purge)")
    options = parser.parse_args()
    env = environment()
    os.environ.update(env)
    print(f"preparing {DATABASE_URL.rsplit('/', 1)[1]} ...", flush=True)
    prepare_database(env)
    prepare_database(env, EMPTY_DATABASE_URL)
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # no static files are collected here
    django.setup()
    import redis
    from django.db import connection
    from django.test import Client

    for url in (REDIS_URL, BROKER_URL):
        redis.Redis.from_url(url).flushdb()
    with on_database(EMPTY_DATABASE_URL):
        keys = {"empty": seed()[0]}
    keys["full"], admin = seed()
    client = Client()
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    results: dict[str, Any] = {"rows": options.rows, "started_at": dt.datetime.now(dt.timezone.utc).isoformat(
        timespec="seconds")}
    now = dt.datetime.now(dt.timezone.utc)
    if options.period:
        results["period"], results["partitions"] = options.period, partitions_layout(options.period, now)
    with connection.cursor() as cursor:
        print(f"filling {options.rows:,} logs ...", flush=True)
        results["fill_seconds"] = round(scale_fill.fill(cursor, rows=options.rows, now=now,
                                                        progress=lambda text: print(text, flush=True)), 1)
        seconds, results["calls"] = scale_fill.fill_calls(cursor, progress=lambda text: print(text, flush=True))
        results["calls_seconds"] = round(seconds, 1)
        results["vacuum_seconds"] = round(scale_fill.settle(cursor), 1)
        results["table_size"] = scale_fill.table_size(cursor)
        heavy, results["heavy_logs"] = scale_fill.heaviest_user(cursor)
    print(f"filled in {results['fill_seconds']} s, {results['calls']:,} provider calls in {results['calls_seconds']} s, "
          f"vacuumed in {results['vacuum_seconds']} s, "
          f"{results['table_size']}; user {heavy} has {results['heavy_logs']:,} logs", flush=True)
    results["rollup"] = rollup_timings()
    if options.reads_only:
        results["reads"] = reads(client, keys["full"], options.repeat, heavy)
        for name, figures in results["reads"].items():
            print(f"{name}: {figures['p50_ms']} ms p50 (max {figures['max_ms']})")
        return 0
    # Before the erase, retention and purges below: autovacuum after those would be timed too.
    print("timing single sends, full and empty in turns ...", flush=True)
    results["accept"] = accept_compare(client, keys, options.accepts)
    print("timing reads ...", flush=True)
    results["reads"] = reads(client, keys["full"], options.repeat, heavy)
    results["export"] = export(env, heavy)
    results["erase"] = erase(heavy)
    if options.period:
        results["retire"] = retire(60)
    results["purge"] = purge(60)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(results, indent=2))
    print()
    print(table(options.rows, results))
    print(f"\nfill {results['fill_seconds']} s + {results['calls']:,} provider calls {results['calls_seconds']} s + "
          f"VACUUM ANALYZE {results['vacuum_seconds']} s, {results['table_size']}; "
          f"rollup filled from the logs in {results['rollup']['fill_seconds']} s, log_counts_check --hours 48 in "
          f"{results['rollup']['check_48h_seconds']} s\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
