"""Filling the scale benchmark's database: N logs shaped like a busy service's, written by PostgreSQL itself.

90 days of logs, ids and creation times rising together; 200,000 users on a Zipf-like curve (user 1 the
heaviest, with about 1.7% of the rows); 60% email, 30% SMS, 10% push; mostly delivered or sent, some failed,
bounced and suppressed, and the last ten minutes still pending. One `INSERT ... SELECT generate_series`
per CHUNK rows, each committed on its own, with every index of the table in place (as in production). Then each
log a provider took or refused (not the pending or suppressed ones) gets the provider call that did it, as the
delivery stage writes them: what retention, purges and erasure must delete beside the logs.
"""

import datetime as dt
import time

DAYS = 90
USERS = 200_000
CHUNK = 500_000
# user_id = floor(exp(random() ^ SKEW * ln USERS)): a log-uniform curve bent so that the heaviest user has
# (ln 2 / ln USERS) ^ (1 / SKEW) of the rows, about 1.7% (the 171,772 of 10 million).
SKEW = 0.706
PENDING_MINUTES = 10

FILL_SQL = """
INSERT INTO notification_logs (user_id, template_name, template_version, type, status, priority, recipient,
    subject, body, html_body, provider, provider_message_id, attempts, error_message, client, created_at,
    updated_at, sent_at, delivered_at)
SELECT user_id, kind || '_notice', 1, kind, status, 'normal',
       CASE kind WHEN 'email' THEN 'user' || user_id || '@example.com'
                 WHEN 'sms' THEN '+1415' || lpad(user_id::text, 7, '0') ELSE '' END,
       CASE WHEN kind = 'email' THEN 'Your Acme order ' || i || ' has shipped' ELSE '' END,
       'Hello, your Acme order ' || i || ' has shipped and arrives in two days. Reply STOP to opt out.',
       CASE WHEN kind = 'email' THEN '<p>Hello,</p><p>your Acme order <b>' || i || '</b> has shipped and '
            || 'arrives in two days.</p><p><a href="https://example.com/orders/' || i || '">Track it</a></p>'
            ELSE '' END,
       CASE WHEN status IN ('pending', 'suppressed') THEN ''
            ELSE CASE kind WHEN 'email' THEN 'smtp' WHEN 'sms' THEN 'twilio' ELSE 'fcm' END END,
       CASE WHEN status IN ('pending', 'suppressed') THEN '' ELSE 'msg-' || i END,
       CASE WHEN status = 'pending' THEN 0 ELSE 1 END,
       CASE status WHEN 'failed' THEN 'The number is not reachable (code 30003).'
                   WHEN 'bounced' THEN '550 5.1.1 mailbox unavailable'
                   WHEN 'suppressed' THEN 'Suppressed: the user turned this channel off.' END,
       'bench', at, at,
       CASE WHEN status IN ('sent', 'delivered', 'bounced') THEN at + interval '2 seconds' END,
       CASE WHEN status = 'delivered' THEN at + interval '30 seconds' END
FROM (
    SELECT i, at, user_id,
           CASE WHEN r_kind < 0.6 THEN 'email' WHEN r_kind < 0.9 THEN 'sms' ELSE 'push' END AS kind,
           CASE WHEN at > %(pending_after)s THEN 'pending'
                WHEN r_status < 0.70 THEN 'delivered' WHEN r_status < 0.90 THEN 'sent'
                WHEN r_status < 0.94 THEN 'failed' WHEN r_status < 0.96 THEN 'bounced'
                ELSE 'suppressed' END AS status
    FROM (
        SELECT i, %(start)s::timestamptz + (i - 1) * %(step)s::interval AS at,
               floor(exp(power(random(), %(skew)s) * ln(%(users)s)))::int AS user_id,
               random() AS r_kind, random() AS r_status
        FROM generate_series(%(low)s, %(high)s) AS i
    ) AS drawn
) AS shaped
"""


def fill(cursor, *, rows: int, now: dt.datetime, progress=print) -> float:
    """Write `rows` logs ending at `now` (the cursor's connection in autocommit). Returns the seconds taken."""
    start = now - dt.timedelta(days=DAYS)
    step = dt.timedelta(days=DAYS) / rows
    started = time.monotonic()
    cursor.execute("SELECT setseed(0.42)")
    for low in range(1, rows + 1, CHUNK):
        high = min(low + CHUNK - 1, rows)
        cursor.execute(FILL_SQL, {"start": start, "step": step, "skew": SKEW, "users": USERS, "low": low,
                                  "high": high, "pending_after": now - dt.timedelta(minutes=PENDING_MINUTES)})
        progress(f"  {high:,} of {rows:,} logs written ({time.monotonic() - started:.0f} s)")
    return time.monotonic() - started


CALLS_SQL = """
INSERT INTO notification_provider_calls (log_id, attempt, provider, started_at, duration_ms, outcome, error,
    provider_message_id)
SELECT id, 1, provider, created_at + interval '1 second', 180,
       CASE WHEN status = 'failed' THEN 'permanent' ELSE 'sent' END,
       CASE status WHEN 'failed' THEN error_message ELSE '' END, provider_message_id
FROM notification_logs WHERE id BETWEEN %(low)s AND %(high)s AND status NOT IN ('pending', 'suppressed')
"""


def fill_calls(cursor, *, progress=print) -> tuple[float, int]:
    """A provider call for each log a provider took or refused, CHUNK logs per statement. (seconds, calls)."""
    started, calls = time.monotonic(), 0
    cursor.execute("SELECT min(id), max(id) FROM notification_logs")
    first, last = cursor.fetchone()
    for low in range(first or 1, (last or 0) + 1, CHUNK):
        cursor.execute(CALLS_SQL, {"low": low, "high": low + CHUNK - 1})
        calls += cursor.rowcount
        progress(f"  {calls:,} provider calls written ({time.monotonic() - started:.0f} s)")
    return time.monotonic() - started, calls


def settle(cursor) -> float:
    """VACUUM ANALYZE the log and the calls, as autovacuum would after a fill: visibility map and statistics."""
    started = time.monotonic()
    cursor.execute("VACUUM (ANALYZE) notification_logs")
    cursor.execute("VACUUM (ANALYZE) notification_provider_calls")
    return time.monotonic() - started


def table_size(cursor) -> str:
    """The log's size with its indexes (a partitioned table's is its partitions')."""
    cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('notification_logs') + coalesce((SELECT "
                   "sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                   "WHERE inhparent = 'notification_logs'::regclass), 0))")
    return cursor.fetchone()[0]


def heaviest_user(cursor) -> tuple[int, int]:
    """The user with the most logs (user 1 by the curve's shape) and how many it has."""
    cursor.execute("SELECT count(*) FROM notification_logs WHERE user_id = 1")
    return 1, cursor.fetchone()[0]


def wal_bytes(cursor, since: str | None = None) -> tuple[str, int]:
    """The current WAL position, and the bytes written since `since` (a position read before)."""
    cursor.execute("SELECT pg_current_wal_lsn()::text")
    now = cursor.fetchone()[0]
    if since is None:
        return now, 0
    cursor.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)::bigint", [now, since])
    return now, int(cursor.fetchone()[0])
