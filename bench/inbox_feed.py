"""The benchmark's inbox rows: the feed API at a user with 100,000 messages beside the same requests at a user
with 10 (alternating rounds, so the ratio shows whether a request's cost grows with the feed), the plan of the
list's query at that size, and how many live streams one ASGI process holds open while the API still answers
(bench.inbox_streams).

    .venv/bin/python -m bench --skip accept,reads,delivery,bulk,triggers     (the inbox rows alone)
"""

from collections.abc import Callable
from typing import Any

BIG_USER, SMALL_USER = 950_001, 950_002
BIG_FEED, SMALL_FEED = 100_000, 10
OTHERS, OTHERS_FEED = 10_000, 10  # other users' messages around them, as in a table many users share
# The requests measured, by name: the first page of the feed, the first page of its unread ones, the badge.
REQUESTS = {"list": "/api/v1/feed/?size=20", "unread": "/api/v1/feed/?status=unread&size=20",
            "counts": "/api/v1/feed/counts/"}


def fill() -> dict[str, float]:
    """The feeds, each with one INSERT ... SELECT generate_series: BIG_USER's 100,000 messages (a minute
    apart, half seen, a third read, one in fifty archived), SMALL_USER's 10 alike, and 10 for each of
    10,000 other users; then their counters from a real count, and ANALYZE. Returns seconds per step."""
    import time

    from django.db import connection

    seconds: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE inbox_messages, inbox_counters RESTART IDENTITY")
        started = time.perf_counter()
        # The measured users first, then everyone else's messages, newer than theirs: a page of their feed must
        # not have to pass over what others received since.
        for user_id, count in ((SMALL_USER, SMALL_FEED), (BIG_USER, BIG_FEED)):
            cursor.execute(_INSERT.format(user="%(user)s"), {"user": user_id, "count": count})
        cursor.execute(_INSERT.format(user=f"1 + g %% {OTHERS}"), {"count": OTHERS * OTHERS_FEED})
        seconds["fill"] = time.perf_counter() - started
        cursor.execute(
            "INSERT INTO inbox_counters (user_id, unread, unseen) SELECT user_id,"
            " count(*) FILTER (WHERE read_at IS NULL AND archived_at IS NULL),"
            " count(*) FILTER (WHERE seen_at IS NULL AND archived_at IS NULL) FROM inbox_messages GROUP BY user_id")
        cursor.execute("VACUUM (ANALYZE) inbox_messages")
    return seconds


# Message g of `count` for `user` (an SQL expression): created a minute apart ending now; every 2nd seen,
# every 3rd read (and so seen), every 50th archived; a quarter in the billing category.
_INSERT = (
    "INSERT INTO inbox_messages (user_id, log_id, kind, category, title, body, body_html, action_url, data,"
    " created_at, seen_at, read_at, archived_at)"
    " SELECT {user}, NULL, 'bench_kind', CASE WHEN g %% 4 = 0 THEN 'billing' ELSE 'updates' END,"
    " 'Order ' || g || ' shipped', 'It is **on its way**.', '<p>It is <strong>on its way</strong>.</p>',"
    " '/orders/' || g, '{{}}'::jsonb, now() - (%(count)s - g) * interval '1 minute',"
    " CASE WHEN g %% 2 = 0 OR g %% 3 = 0 THEN now() END, CASE WHEN g %% 3 = 0 THEN now() END,"
    " CASE WHEN g %% 50 = 0 THEN now() END FROM generate_series(1, %(count)s) g")


def list_plan(user_id: int, status: str) -> dict[str, Any]:
    """EXPLAIN ANALYZE of the SQL the feed's first page runs (taken from the selector itself): the plan's
    nodes top down, whether any sorts, and the index it reads."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inbox_app.selectors import feed_list

    with CaptureQueriesContext(connection) as queries:
        feed_list(user_id=user_id, status=status, size=20)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[0]["sql"])
        explained = cursor.fetchone()[0]
    explained = explained[0] if isinstance(explained, list) else explained
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", ()):
            walk(child)

    walk(explained["Plan"])
    return {"nodes": [" ".join(filter(None, (n["Node Type"], n.get("Scan Direction") if "Index" in n["Node Type"]
                                             else None, n.get("Index Name")))) for n in nodes],
            "sorts": any(n["Node Type"] in ("Sort", "Incremental Sort") for n in nodes),
            "index": next((n.get("Index Name") for n in nodes if n.get("Index Name")), None),
            "rows_read": sum(n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0) for n in nodes
                             if "Scan" in n["Node Type"]),
            "execution_ms": round(explained["Execution Time"], 3)}


def measure(wrk: Callable[..., dict[str, Any]], web: str, *, seconds: int, rounds: int, streams: int,
            combine: Callable[[list[dict[str, Any]]], dict[str, Any]], cpu: Callable[[], float]) -> dict[str, Any]:
    """The inbox rows: each request of REQUESTS at BIG_USER and at SMALL_USER in alternating rounds (`cpu`
    gives the web workers' CPU seconds so far), the list's plans at BIG_USER, and one round of
    bench.inbox_streams with `streams` open streams."""
    from bench import inbox_streams
    from inbox_app.tokens import feed_token_mint

    results: dict[str, Any] = {"fill_s": round(fill()["fill"], 2), "big_feed": BIG_FEED, "small_feed": SMALL_FEED}
    results["plans"] = {status: list_plan(BIG_USER, status) for status in ("inbox", "unread")}
    tokens = {side: feed_token_mint(user_id=user)[0] for side, user in (("big", BIG_USER), ("small", SMALL_USER))}
    for name, path in REQUESTS.items():
        for side in ("small", "big"):  # warm every worker
            wrk(f"{web}{path}", seconds=1, authorization=f"Bearer {tokens[side]}")
        runs: dict[str, list[dict[str, Any]]] = {"small": [], "big": []}
        for _ in range(rounds):
            for side in ("small", "big"):
                before = cpu()
                run = wrk(f"{web}{path}", seconds=max(1, seconds // rounds), authorization=f"Bearer {tokens[side]}")
                run["cpu_ms_per_request"] = (cpu() - before) * 1000 / max(1, run["requests"])
                runs[side].append(run)
        small, big = combine(runs["small"]), combine(runs["big"])
        results[name] = {"small": small, "big": big, "fraction": round(big["rps"] / small["rps"], 3)}
    results["streams"] = inbox_streams.measure([streams])[0]
    return results


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    inbox = results["inbox"]
    big, small = f"{inbox['big_feed']:,}", f"{inbox['small_feed']:,}"
    rows = []
    for name, label in (("list", "feed list (20)"), ("unread", "feed list unread (20)"), ("counts", "feed counts")):
        r = inbox[name]
        rows.append((f"{label}, req/s at {big} messages (c={r['big']['connections']})", f"{r['big']['rps']:.0f}",
                     f"{r['small']['rps']:.0f} at {small} messages", f"{r['fraction']:.0%}", "~100%"))
        rows.append((f"{label}, web CPU ms per request at {big} messages", f"{r['big']['cpu_ms_per_request']:.2f}",
                     f"{r['small']['cpu_ms_per_request']:.2f} at {small} messages", "", ""))
    for status, plan in inbox["plans"].items():
        rows.append((f"feed list ({status}) plan at {big}: rows read, ms",
                     f"{plan['rows_read']}, {plan['execution_ms']:.2f}", " > ".join(plan["nodes"]),
                     "SORTS" if plan["sorts"] else "", "index, no sort"))
    s = inbox["streams"]
    rows.append(("SSE streams open in one uvicorn process", f"{s['streams']:,}", f"opened in {s['opened_s']:.1f} s",
                 "", ""))
    rows.append(("feed counts ms p50 / worst, with them open", f"{s['median_ms']:.0f} / {s['worst_ms']:.0f}",
                 f"{s['idle_median_ms']:.0f} / {s['idle_worst_ms']:.0f} with none open", "", ""))
    rows.append(("new message to its open stream, ms", f"{s['delivered_ms']:.0f}", "", "", ""))
    return rows
