"""The benchmark: accept, delivery, bulk, triggers, lanes, reads, inbox, memory, each beside a baseline from the same run.

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
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import inbox_feed, lanes, triggers
from bench.harness import (
    ACCEPT_ROUNDS,
    ACCEPT_USERS,
    BIG,
    BROKER_URL,
    CELERY_CONCURRENCY,
    CONNECTIONS,
    CONTEXT,
    DATABASE_URL,
    FROM,
    PYTHON,
    READ_USER,
    REDIS_URL,
    RESULTS,
    ROOT,
    SID,
    TOKEN,
    USERS,
    WEB_WORKERS,
    Processes,
    PySpy,
    children,
    combine,
    count_queries,
    cpu_seconds,
    free_port,
    graphql_body,
    insert_read_logs,
    prepare_database,
    rss_mib,
    seed,
    settle_database,
    sql_batch_insert,
    wait_until,
    wrk,
)
from bench.report import cpu_model, postgres_version, table


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="short runs (10 s, 5,000 deliveries, 20,000 bulk and lanes drain)")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles into bench/results/")
    parser.add_argument("--skip", default="",
                        help="comma-separated phases to skip: accept,reads,delivery,bulk,triggers,lanes,inbox")
    options = parser.parse_args()
    skip = set(filter(None, options.skip.split(",")))
    if {"accept", "reads", "triggers", "inbox"} - skip and shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk (Debian/Ubuntu), or --skip accept,reads,triggers,inbox",
              file=sys.stderr)
        return 2
    accept_seconds = 10 if options.quick else 30
    read_seconds = 5 if options.quick else 15
    deliveries = 5_000 if options.quick else 20_000
    bulk_users = 20_000 if options.quick else USERS
    RESULTS.mkdir(parents=True, exist_ok=True)

    fake_port, web_port, floor_port = free_port(), free_port(), free_port()
    fake_url, web = f"http://127.0.0.1:{fake_port}", f"http://127.0.0.1:{web_port}"
    floor = f"http://127.0.0.1:{floor_port}/floor/send/"
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
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model(), "python": platform.python_version(),
                    "postgres": postgres_version(), "kernel": platform.release()},
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
             # The 100,000-member topic trigger took 8.7 s on a quiet machine and more than gunicorn's default
             # 30 s on a loaded one, where the worker was killed and the run lost.
             "--timeout", "120", "--log-level", "warning"], "gunicorn.log", env)
        wait_until(lambda: httpx.get(f"{web}/health/live").status_code == 200, 30, "gunicorn")
        floor_server = processes.start(
            [str(Path(PYTHON).parent / "gunicorn"), "bench.floor.wsgi", "--bind", f"127.0.0.1:{floor_port}",
             "--workers", str(WEB_WORKERS), "--worker-class", "sync", "--backlog", "2048",
             "--log-level", "warning"], "gunicorn-floor.log", env)
        wait_until(lambda: socket.create_connection(("127.0.0.1", floor_port), timeout=0.2).close() or True,
                   30, "the floor's gunicorn")
        headers = {"Authorization": f"Api-Key {key}"}
        body = json.dumps({"user_id": 0, "template_name": "bench_sms", "context": CONTEXT}).replace(
            '"user_id": 0', '"user_id": {user}')

        if "accept" not in skip:
            # A running service has its users' preferences in the shared cache; so does the measured one.
            from preferences_app.services import preference_get_or_create

            for user_id in range(1, ACCEPT_USERS + 1):
                preference_get_or_create(user_id=user_id)
            # Warm both paths in every worker (imports, connections, compiled templates) before measuring.
            wrk(floor, seconds=2, method="POST", body=body)
            wrk(f"{web}/bench/baseline/", seconds=2, method="POST", body=body)
            wrk(f"{web}/api/v1/notifications/", seconds=2, method="POST", body=body, key=key)
            # The machine is shared: alternate short rounds of the floor, the baseline and ours, so a slow
            # spell hits all three. The floor is a minimal Django (bench/floor/); the baseline a bare view
            # inside this project, behind its middleware.
            workers, floor_workers = children(gunicorn.pid), children(floor_server.pid)
            if workers:
                spy.record(workers[0], "accept-web", min(20, accept_seconds))
            rounds: dict[str, list[dict[str, Any]]] = {"floor": [], "baseline": [], "ours": []}
            for _ in range(ACCEPT_ROUNDS):
                for side, url, key_used, pids in (("floor", floor, "", floor_workers),
                                                  ("baseline", f"{web}/bench/baseline/", "", workers),
                                                  ("ours", f"{web}/api/v1/notifications/", key, workers)):
                    cpu = cpu_seconds(pids)
                    run = wrk(url, seconds=accept_seconds // ACCEPT_ROUNDS, method="POST", body=body, key=key_used)
                    run["cpu_ms_per_request"] = (cpu_seconds(pids) - cpu) * 1000 / max(1, run["requests"])
                    rounds[side].append(run)
            floor_run, baseline, ours = (combine(rounds[side]) for side in ("floor", "baseline", "ours"))
            spy.wait()
            # Latency at half of our peak, and the bare view's at the same rate: how much of the tail is the machine.
            half = wrk(f"{web}/api/v1/notifications/", seconds=accept_seconds, method="POST", body=body, key=key,
                       rate=round(ours["rps"] / 2))
            half_baseline = wrk(f"{web}/bench/baseline/", seconds=accept_seconds, method="POST", body=body,
                                rate=round(ours["rps"] / 2))
            half_floor = wrk(floor, seconds=accept_seconds, method="POST", body=body, rate=round(ours["rps"] / 2))
            results["accept"] = {"floor": floor_run, "baseline": baseline, "ours": ours, "half_peak": half,
                                 "rounds": rounds, "half_peak_baseline": half_baseline, "half_peak_floor": half_floor,
                                 "fraction": round(ours["rps"] / baseline["rps"], 3),
                                 "fraction_floor": round(ours["rps"] / floor_run["rps"], 3)}

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

        if "lanes" not in skip:
            results["lanes"] = lanes.run(users=bulk_users, key=key, fake_url=fake_url, env=env,
                                         start=processes.start, stop=processes.stop, free_port=free_port,
                                         wait_until=wait_until, python=PYTHON, web_workers=WEB_WORKERS,
                                         concurrency=CELERY_CONCURRENCY)

        if "inbox" not in skip:
            results["inbox"] = inbox_feed.measure(wrk, web, seconds=read_seconds, rounds=ACCEPT_ROUNDS,
                                                  streams=500 if options.quick else 2000, combine=combine,
                                                  cpu=lambda: cpu_seconds(children(gunicorn.pid)))

        results.setdefault("memory", {})["web_worker_rss_mib"] = round(
            max((rss_mib(p) for p in children(gunicorn.pid)), default=0), 1)
    except Exception as err:
        # A phase that fails (a server that did not start on a loaded machine) does not lose the phases measured.
        results["stopped_by"] = f"{type(err).__name__}: {err}"
        raise
    finally:
        spy.wait()
        processes.stop_all()
        with contextlib.suppress(Exception):
            import redis

            redis.Redis.from_url(BROKER_URL).flushdb()
        path = RESULTS / f"bench-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
        path.write_text(json.dumps(results, indent=2, default=str))
        try:
            print(table(results))
        except KeyError:  # a phase stopped half way: its figures are in the JSON only
            print(json.dumps(results, indent=2, default=str))
        if "stopped_by" in results:
            print(f"\nstopped by {results['stopped_by']}; the phases above were measured")
        print(f"\nresults: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
