"""How many writers can move one hot count of the rollup at once: commits per second with 1 shard, with 8, and
without the rollup.

    .venv/bin/python -m bench.rollup_contention [--writers 8] [--seconds 5]

Each writer is a thread with its own connection that runs, as fast as it can, a transaction that INSERTs a
row elsewhere (like an accepted log) and then adds one to the same (hour, channel, provider, status) count of
notification_log_counts, on a shard chosen at random among 1 or 8, then commits. A row lock is held until the
commit is flushed, so with one row the writers queue behind each other's commits. Uses the database of
BENCH_DATABASE_URL (default notif_bench), migrated; it writes to a temporary table and to an hour of 1970.
"""

import argparse
import os
import random
import threading
import time

import psycopg

DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/notif_bench")
UPSERT = ("INSERT INTO notification_log_counts (hour, channel, provider, status, shard, count) "
          "VALUES ('1970-01-01T00:00:00Z', 'sms', 'twilio', 'sent', %s, 1) ON CONFLICT (hour, channel, provider, "
          "status, shard) DO UPDATE SET count = notification_log_counts.count + EXCLUDED.count")


def run(writers: int, seconds: float, shards: int) -> float:
    """Commits per second of `writers` threads moving the hot count over `shards` rows (0: not at all)."""
    stop, done = time.monotonic() + seconds, [0] * writers

    def write(index: int) -> None:
        with psycopg.connect(DATABASE_URL) as conn:
            conn.execute("CREATE TEMPORARY TABLE accepted (id bigserial, at timestamptz)")
            conn.commit()
            while time.monotonic() < stop:
                conn.execute("INSERT INTO accepted (at) VALUES (now())")
                if shards:
                    conn.execute(UPSERT, [random.randrange(shards)])
                conn.commit()
                done[index] += 1

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rollup_contention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--shards", default="0,1,8", help="comma-separated shard counts to try (0: no rollup write)")
    options = parser.parse_args()
    counts = [int(shards) for shards in options.shards.split(",")]
    for shards in counts + counts:  # twice each, in turn: the machine is shared
        rate = run(options.writers, options.seconds, shards)
        what = f"{shards} shard{'s' if shards > 1 else ''}" if shards else "no rollup write"
        print(f"{options.writers} writers, {what}: {rate:,.0f} commits/s", flush=True)
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
        conn.execute("DELETE FROM notification_log_counts WHERE hour = '1970-01-01T00:00:00Z'")


if __name__ == "__main__":
    main()
