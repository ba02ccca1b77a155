"""The benchmark's trigger rows: a 3-channel trigger accepted per second beside today's single send (alternating
rounds, the same users), and a trigger to a 100,000-member topic: time to committed and rows per second."""

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

TRIGGER_CONTEXT = {"product": "Acme", "code": "123456"}
TOPIC = "bench-everyone"
KIND = "bench_code"


def seed_kind(users: int) -> None:
    """An email, an SMS and a push template under one kind, and a topic of users 1..`users`."""
    from django.db import connection

    from kinds_app.services import kind_create
    from templates_app.models import NotificationTemplate
    from templates_app.services import template_create

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE notification_kinds, notification_kind_templates, notification_topics, "
                       "notification_topic_subscriptions, notification_triggers RESTART IDENTITY CASCADE")
    email = template_create(name="bench_email", type="email", subject="Your {{ product }} code",
                            body="Your {{ product }} code is {{ code }}.", variables=TRIGGER_CONTEXT)
    push = template_create(name="bench_push", type="push", body="{{ product }}: your code is {{ code }}.",
                           variables=TRIGGER_CONTEXT)
    sms = NotificationTemplate.objects.get(name="bench_sms")
    kind_create(key=KIND, name="Bench code", category="transactional",
                templates={"email": email.id, "sms": sms.id, "push": push.id})
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO notification_topics (key, name, created_at) VALUES (%s, '', now())", [TOPIC])
        cursor.execute("INSERT INTO notification_topic_subscriptions (topic_id, user_id, created_at) "
                       "SELECT t.id, g, now() FROM generate_series(1, %s) g, notification_topics t WHERE t.key = %s",
                       [users, TOPIC])
        cursor.execute("ANALYZE notification_topic_subscriptions")


def accept_rounds(wrk: Callable[..., dict[str, Any]], web: str, key: str, *, seconds: int, rounds: int,
                  cpu: Callable[[], float]) -> dict[str, Any]:
    """Alternating rounds of single sends and 3-channel triggers for one user each (users 1..ACCEPT_USERS);
    `cpu` gives the web workers' CPU seconds so far."""
    single = json.dumps({"user_id": 0, "template_name": "bench_sms", "context": TRIGGER_CONTEXT}).replace(
        '"user_id": 0', '"user_id": {user}')
    trigger = json.dumps({"kind": KIND, "user_ids": [0], "context": TRIGGER_CONTEXT}).replace("[0]", "[{user}]")
    wrk(f"{web}/api/v1/triggers/", seconds=2, method="POST", body=trigger, key=key)  # warm every worker
    runs: dict[str, list[dict[str, Any]]] = {"single": [], "trigger": []}
    for _ in range(rounds):
        for side, url, body in (("single", f"{web}/api/v1/notifications/", single),
                                ("trigger", f"{web}/api/v1/triggers/", trigger)):
            before = cpu()
            run = wrk(url, seconds=max(1, seconds // rounds), method="POST", body=body, key=key)
            run["cpu_ms_per_request"] = (cpu() - before) * 1000 / max(1, run["requests"])
            runs[side].append(run)
    return runs


def topic_trigger(web: str, key: str, *, users: int, count_logs: Callable[[str], int]) -> dict[str, Any]:
    """One trigger to the whole topic; seconds until it answered and until every log (3 per user) was committed."""
    started = time.perf_counter()
    answer = httpx.post(f"{web}/api/v1/triggers/", headers={"Authorization": f"Api-Key {key}"}, timeout=600,
                        json={"kind": KIND, "topics": [TOPIC], "context": TRIGGER_CONTEXT})
    returned = time.perf_counter() - started
    answer.raise_for_status()
    trigger_id = answer.json()["trigger_id"]
    while count_logs(trigger_id) < 3 * users:
        time.sleep(0.05)
    committed = time.perf_counter() - started
    body = answer.json()
    return {"users": users, "logs": 3 * users, "returned_s": round(returned, 2), "committed_s": round(committed, 2),
            "rows_per_s": round(3 * users / committed), "accepted": body["accepted"], "failed": body["failed"]}


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    t = results["triggers"]
    rows = []
    if "single" in t:
        rows.append(("trigger (3 channels), req/s (c=%d)" % t["trigger"]["connections"], f"{t['trigger']['rps']:.0f}",
                     f"{t['single']['rps']:.0f} single send", f"{t['fraction']:.0%}", ""))
        rows.append(("trigger logs/s accepted", f"{3 * t['trigger']['rps']:.0f}",
                     f"{t['single']['rps']:.0f} single send", f"{3 * t['fraction']:.0%}", ""))
        rows.append(("trigger / single send web CPU ms per request", f"{t['trigger']['cpu_ms_per_request']:.2f}",
                     f"{t['single']['cpu_ms_per_request']:.2f}", "", ""))
    if "topic" in t:
        p = t["topic"]
        rows.append((f"trigger to a {p['users']:,}-member topic: returned / committed s",
                     f"{p['returned_s']:.2f} / {p['committed_s']:.2f}", "", "", ""))
        rows.append((f"topic trigger rows/s committed ({p['logs']:,} logs)", f"{p['rows_per_s']:,}",
                     f"{results['bulk']['rows_per_s']:,} bulk" if "bulk" in results else "", "", ""))
    return rows
