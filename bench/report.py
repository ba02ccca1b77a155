"""The benchmark's table: each measure beside its baseline and target, and the machine it ran on."""

import contextlib
import platform
from pathlib import Path
from typing import Any

from bench import inbox_feed, lanes, triggers


def table(results: dict[str, Any]) -> str:
    rows = [("measure", "ours", "baseline", "ours/baseline", "target")]
    if "accept" in results:
        a = results["accept"]
        rows += [
            ("accept, req/s (c=%d)" % a["ours"]["connections"], f"{a['ours']['rps']:.0f}",
             f"{a['floor']['rps']:.0f} Django's floor", f"{a['fraction_floor']:.0%}", ">= 60%"),
            ("accept, req/s, in-project bare view", "", f"{a['baseline']['rps']:.0f} bare view",
             f"{a['fraction']:.0%}", ""),
            ("accept p50/p95/p99 ms at peak (median round)", _lat(a["ours"]),
             f"{_lat(a['floor'])} floor", "", ""),
            ("accept web CPU ms per request", f"{a['ours']['cpu_ms_per_request']:.2f}",
             f"{a['floor']['cpu_ms_per_request']:.2f} floor",
             f"{a['floor']['cpu_ms_per_request'] / a['ours']['cpu_ms_per_request']:.0%}", ""),
            ("accept p50/p99 ms at half peak (%.0f req/s)" % a["half_peak"]["rps"],
             f"{a['half_peak']['p50_ms']:.1f} / {a['half_peak']['p99_ms']:.1f}",
             f"{a['half_peak_floor']['p50_ms']:.1f} / {a['half_peak_floor']['p99_ms']:.1f} floor, same rate",
             "", "p99 < 20 ms"),
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
    if "lanes" in results:
        rows += lanes.table_rows(results)
    if "inbox" in results:
        rows += inbox_feed.table_rows(results)
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


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def postgres_version() -> str:
    from django.db import connection

    with contextlib.suppress(Exception):
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return cursor.fetchone()[0]
    return ""
