"""The benchmark's lanes phase: 50 urgent single sends spread over a bulk drain reach the provider quickly, and
the bulk's own rate holds, measured with lanes on and with lanes off in the same run. Then two clients' bulks,
one of `users` users and one of 100 under another API key, posted one after the other: how soon the small one
is all at the provider, against the large one's drain.

For each side it starts gunicorn and one Celery worker (the same processes, only the settings differ), posts
a bulk send to `users` users, and each time the loopback Twilio fake has accepted another 1/50 of the bulk,
posts one single send whose code names it ("U7"). The fake notes when each of those arrives (bench/fake_twilio.py):
accept-to-provider latency is the arrival time minus the time the single send's request was made, on the
same machine's clock. The bulk's rate is its messages over the time from its first to its last arrival.

"Lanes off" is the service as it was before them: NOTIFICATION_LANES=false (one queue, first in, first out)
and NOTIFICATION_BULK_TURN_BATCHES=0 (a bulk queues all its delivery tasks at once).
"""

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

URGENT_SENDS = 50
SMALL_BULK_USERS = 100
SIDES = {  # lanes off first: a slow spell late in the run would then go against lanes, not for them
    "off": {"NOTIFICATION_LANES": "false", "NOTIFICATION_BULK_TURN_BATCHES": "0"},
    "on": {"NOTIFICATION_LANES": "true"},
}


def run(*, users: int, key: str, fake_url: str, env: dict[str, str], start: Callable, stop: Callable,
        free_port: Callable[[], int], wait_until: Callable, python: str, web_workers: int,
        concurrency: int) -> dict[str, Any]:
    """Both sides; `start(args, log, env)` and `stop(process)` run the processes (bench.harness.Processes)."""
    results: dict[str, Any] = {"users": users, "urgent_sends": URGENT_SENDS, "sides": {}}
    for side, settings in SIDES.items():
        _clear_logs()
        side_env = {**env, **settings}
        port = free_port()
        web = f"http://127.0.0.1:{port}"
        gunicorn = start([str(Path(python).parent / "gunicorn"), "notifications_project.wsgi", "--bind",
                          f"127.0.0.1:{port}", "--workers", str(web_workers), "--worker-class", "sync",
                          "--log-level", "warning"], f"gunicorn-lanes-{side}.log", side_env)
        worker = start([python, "-m", "celery", "-A", "notifications_project", "worker", "--concurrency",
                        str(concurrency), "--pool", "prefork", "--without-heartbeat", "--without-mingle",
                        "--without-gossip", "--loglevel", "WARNING"], f"celery-lanes-{side}.log", side_env)
        try:
            live = f"{web}/health/live"
            wait_until(lambda live=live: httpx.get(live).status_code == 200, 30, "gunicorn")
            _wait_for_worker(wait_until)
            results["sides"][side] = _drain(web=web, key=key, fake_url=fake_url, users=users,
                                            wait_until=wait_until)
            results["sides"][side]["two_clients"] = _two_clients(web=web, key=key, fake_url=fake_url, users=users,
                                                                 wait_until=wait_until)
        finally:
            stop(worker)
            stop(gunicorn)
    on, off = results["sides"]["on"], results["sides"]["off"]
    results["bulk_rate_fraction"] = round(on["bulk_per_s"] / off["bulk_per_s"], 3)
    return results


def _drain(*, web: str, key: str, fake_url: str, users: int, wait_until: Callable) -> dict[str, Any]:
    """One bulk drain with the urgent sends spread over it; the figures of one side."""
    from logs_app.models import NotificationLog

    headers = {"Authorization": f"Api-Key {key}"}
    arrivals = f"{fake_url}/bench/arrivals"
    httpx.post(arrivals).raise_for_status()  # the fake's clock starts empty
    thresholds = [math.ceil(users * (i + 0.5) / URGENT_SENDS) for i in range(URGENT_SENDS)]
    asked: dict[str, float] = {}
    answered: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    started = time.time()
    answer = httpx.post(f"{web}/api/v1/notifications/bulk/", headers=headers, timeout=300, json={
        "user_ids": list(range(1, users + 1)), "template_name": "bench_sms",
        "context": {"product": "Acme", "code": "123456"}})
    answer.raise_for_status()
    batch_id = answer.json()["batch_id"]
    deadline = time.monotonic() + 120 + users / 50  # a drain slower than 50 messages/s is a failure
    with httpx.Client(base_url=web, headers=headers, timeout=30) as client:
        while len(asked) < URGENT_SENDS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bulk drain stalled after {len(asked)} urgent sends")
            accepted = httpx.get(arrivals).json()["accepted"]
            if accepted >= thresholds[len(asked)]:
                code = f"U{len(asked)}"
                asked[code] = time.time()
                client.post("/api/v1/notifications/", json={
                    "user_id": len(asked), "template_name": "bench_sms",
                    "context": {"product": "Acme", "code": code}}).raise_for_status()
                answered[code] = time.time()
            else:
                time.sleep(0.02)
    clock: dict[str, Any] = {}

    def done() -> bool:
        clock.update(httpx.get(arrivals).json())
        return clock["accepted"] >= users and len(clock["urgent"]) >= URGENT_SENDS

    wait_until(done, max(30.0, deadline - time.monotonic()), "the rest of the drain", interval=0.5)
    latencies = sorted((clock["urgent"][code] - asked[code]) * 1000 for code in asked)
    accept_ms = sorted((answered[code] - asked[code]) * 1000 for code in asked)
    return {
        "urgent_ms": {"p50": round(_rank(latencies, 50), 1), "p95": round(_rank(latencies, 95), 1),
                      "p99": round(_rank(latencies, 99), 1), "max": round(latencies[-1], 1)},
        "urgent_accept_p50_ms": round(_rank(accept_ms, 50), 1),
        "bulk_per_s": round((users - 1) / (clock["last"] - clock["first"]), 1),
        "bulk_first_after_s": round(clock["first"] - started, 2),
        "bulk_seconds": round(clock["last"] - started, 2),
        "not_sent": NotificationLog.objects.filter(batch_id=batch_id).exclude(status="sent").count(),
        "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # at the start, at the end
    }


def _two_clients(*, web: str, key: str, fake_url: str, users: int, wait_until: Callable) -> dict[str, Any]:
    """Issue #19's two clients: a `users` bulk, then at once a 100-user bulk under another client's key. The
    small one's messages say "code is S." so that the fake counts them apart."""
    from apikeys_app.services import api_key_create

    _, small_key = api_key_create(name="bench-second-client", scopes=["send"])
    arrivals = f"{fake_url}/bench/arrivals"
    httpx.post(arrivals).raise_for_status()
    posted: dict[str, float] = {}
    for name, api_key, count in (("large", key, users), ("small", small_key, SMALL_BULK_USERS)):
        posted[name] = time.time()
        httpx.post(f"{web}/api/v1/notifications/bulk/", headers={"Authorization": f"Api-Key {api_key}"}, timeout=300,
                   json={"user_ids": list(range(1, count + 1)), "template_name": "bench_sms",
                         "context": {"product": "Acme", "code": "S" if name == "small" else "L"}}).raise_for_status()
    clock: dict[str, Any] = {}

    def done() -> bool:
        clock.update(httpx.get(arrivals).json())
        return clock["accepted"] >= users and clock["small"] >= SMALL_BULK_USERS

    wait_until(done, 120 + users / 50, "the two clients' bulks", interval=0.5)
    return {"small_done_after_s": round(clock["small_last"] - posted["small"], 2),
            "large_done_after_s": round(clock["last"] - posted["large"], 2)}


def _rank(values: list[float], percent: float) -> float:
    """The nearest-rank percentile of sorted `values` (of 50, p99 is the slowest)."""
    return values[max(0, math.ceil(len(values) * percent / 100) - 1)]


def _wait_for_worker(wait_until: Callable) -> None:
    from notifications_project.celery import app as celery_app

    wait_until(lambda: bool(celery_app.control.ping(timeout=0.5)), 30, "the Celery worker")


def _clear_logs() -> None:
    """Start each side from an empty log table and an empty broker, the same for both."""
    import redis
    from django.conf import settings
    from django.db import connection

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notification_logs RESTART IDENTITY CASCADE")
        cursor.execute("VACUUM (ANALYZE) notification_logs")


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    lanes = results["lanes"]
    on, off = lanes["sides"]["on"], lanes["sides"]["off"]

    def latency(side: dict[str, Any]) -> str:
        return f"{side['urgent_ms']['p50']:.0f} / {side['urgent_ms']['p99']:.0f}"

    def two_clients(side: dict[str, Any]) -> str:
        figures = side.get("two_clients")
        return f"{figures['small_done_after_s']:.1f} / {figures['large_done_after_s']:.0f}" if figures else "-"

    return [
        ((f"lanes: {lanes['urgent_sends']} urgent sends in a {lanes['users']:,} bulk drain, "
          "accept to provider p50 / p99 ms"), latency(on), f"{latency(off)} lanes off", "", "p99 < 1000"),
        ("lanes: the bulk's own rate, msg/s", f"{on['bulk_per_s']:.0f}", f"{off['bulk_per_s']:.0f} lanes off",
         f"{lanes['bulk_rate_fraction']:.0%}", ">= 90%"),
        (f"lanes: two clients' bulks of {lanes['users']:,} and {SMALL_BULK_USERS} posted together: the small one "
         "all at the provider after / the large one after, s", two_clients(on), f"{two_clients(off)} lanes off", "",
         "small: a few s"),
        ("lanes: load average (1 min) at the start / end of the drain",
         "{:.1f} / {:.1f}".format(*on["load_average_1m"]), "{:.1f} / {:.1f} lanes off".format(*off["load_average_1m"]),
         "", ""),
    ]
