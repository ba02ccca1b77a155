"""bench.scale's report: its figures as one Markdown table beside the issue's, before the work, and its targets."""

from typing import Any

# The issue's figures at 10 million rows, before this work, and its targets.
ISSUE = {
    "admin list": ("4.2 s", "< 100 ms"), "admin search, user id": ("23 s", "< 100 ms"),
    "admin search, recipient": ("", "< 100 ms"), "admin filter, failed": ("", "< 100 ms"),
    "admin detail": ("", "< 100 ms"), "REST list, page 1": ("205 ms", "< 100 ms"),
    "REST list, heavy user, page 500": ("363 ms", "< 100 ms"), "delivery dashboard": ("938 ms", "< 100 ms"),
    "/metrics scrape": ("310 ms", ""), "purge of a month": ("27 s, 1.6 GB WAL; next run 98 s", "< 1 s, kB of WAL"),
    "export of the heaviest user": ("13 s, 1.36 GB RSS", "RSS < 150 MiB"),
    "erase of the heaviest user": ("18 s in one transaction, 4.2 GB WAL", "batches <= 1 s"),
    "single-send accept": ("2.27 ms, as empty", "within 10% of empty"),
}


def table(rows: int, results: dict[str, Any]) -> str:
    def line(cells):
        return "| " + " | ".join(str(cell) for cell in cells) + " |"

    out = [line([f"operation at {rows:,} rows", "ours", "issue, before (10M rows)", "target"]),
           line(["---"] * 4)]
    for name, reading in results["reads"].items():
        out.append(line([name, f"{reading['p50_ms']} ms p50 (max {reading['max_ms']})", *ISSUE[name]]))
    if "retire" in results:
        re_ = results["retire"]
        out.append(line([f"retention by {results['period']} partitions ({results['partitions']} made)",
                         f"{re_['partitions']} partitions, {re_['logs']:,} logs and {re_.get('calls', 0):,} provider "
                         f"calls ({re_.get('calls_partitions', 0)} partitions) in {re_['seconds']} s (the log "
                         f"locked for at most {re_['locked_ms']} ms, the calls {re_.get('calls_locked_ms', 0)} ms; "
                         f"dropping the detached tables, nothing else locked, "
                         f"{re_['dropped_seconds']} s), {re_['wal_kib']} KiB WAL", *ISSUE["purge of a month"]]))
    first, second = results["purge"]["first"], results["purge"]["second"]
    out.append(line(["purge (row deletes) past 60 days", f"{first['deleted']:,} logs in {first['seconds']} s, "
                     f"{first['wal_mib']} MiB WAL; next run {second['seconds']} s", *ISSUE["purge of a month"]]))
    ex = results["export"]
    out.append(line(["export of the heaviest user", f"{results['heavy_logs']:,} logs in {ex['seconds']} s, "
                     f"peak RSS {ex['peak_rss_mib']} MiB", *ISSUE["export of the heaviest user"]]))
    er = results["erase"]
    out.append(line(["erase of the heaviest user", f"{er['seconds']} s, {er['batches']} batches (p50 "
                     f"{er['batch_p50_ms']} ms, max {er['batch_max_ms']} ms), {er['wal_mib']} MiB WAL",
                     *ISSUE["erase of the heaviest user"]]))
    empty, full = results["accept"]["empty"], results["accept"]["full"]
    out.append(line(["single-send accept", f"{full['p50_ms']} ms p50 (empty table: {empty['p50_ms']} ms)",
                     *ISSUE["single-send accept"]]))
    return "\n".join(out)
