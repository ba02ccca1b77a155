"""The delivery log's partitions on PostgreSQL: `notification_logs` is range-partitioned by `created_at` (a month
or a week each, LOG_PARTITION_PERIOD), with a DEFAULT partition (`notification_logs_held`) that takes any row no
other partition covers: rows written before the partition ahead was made, and the pending logs kept when their
partition retires. Partitions are made ahead and retired (detached, then dropped or kept) by `log_partitions`,
which beat and the CronJob run. Retiring a partition costs a catalog change, not a DELETE per log (its logs'
provider calls, a table of their own, are still deleted row by row).

The primary key is (id, created_at) there, as PostgreSQL asks of a partitioned table; Django's model keeps `id`
as its primary key field, which stays unique because one identity sequence numbers every row. Rows that point
at a log (provider calls, idempotency keys, inbox messages, webhook events) hold a plain log id, without a
foreign key. The embedded SQLite default keeps a plain table and none of this runs there.
"""

import datetime as dt
import re
import time
from dataclasses import dataclass

from django.db import OperationalError, connection, transaction
from psycopg.errors import LockNotAvailable

from .models import LogCount, NotificationLog, NotificationStatus, ProviderCall
from .rollup import counts_add, hour_of, real_counts_of, rollup_counts

UTC = dt.timezone.utc
PERIODS = ("month", "week")
LOGS = NotificationLog._meta.db_table
HELD = f"{LOGS}_held"
_COLUMNS = ", ".join(field.column for field in NotificationLog._meta.concrete_fields)
# How long making or retiring a partition waits for a lock before it gives up (the next run tries again), so a
# long query on the log never has every request queue behind the DETACH.
LOCK_TIMEOUT = "5s"
# The transaction-level advisory lock ('logp') each change of the partitions takes, then checks what it is about to
# do still needs doing: two runs at once (beat and the CronJob) take turns, and it holds behind PgBouncer's
# transaction pooling, where a session-level lock would stay on whichever server connection took it.
_LOCK_KEY = 0x6C6F6770


def _turn(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def is_partitioned() -> bool:
    """Whether the log is a partitioned table here (PostgreSQL, after migration 0015)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [LOGS])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def period_start(moment: dt.datetime, period: str) -> dt.datetime:
    """The start (UTC midnight) of the month or the ISO week (from Monday) that holds `moment`."""
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        return day.replace(day=1)
    return day - dt.timedelta(days=day.weekday())


def period_after(start: dt.datetime, period: str) -> dt.datetime:
    if period == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=7)


@dataclass(frozen=True)
class Partition:
    name: str
    start: dt.datetime | None  # None: from MINVALUE
    end: dt.datetime | None  # None: the DEFAULT partition


_BOUND = re.compile(r"FROM \((?:MINVALUE|'([^']+)')\) TO \('([^']+)'\)")


def partitions_list() -> list[Partition]:
    """The log's partitions, bounded ones by their start (MINVALUE first), then the DEFAULT one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
                       "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
                       [LOGS])
        rows = cursor.fetchall()
    parts = []
    for name, bound in rows:
        found = _BOUND.search(bound)
        if found is None:  # DEFAULT
            parts.append(Partition(name, None, None))
        else:
            parts.append(Partition(name, _timestamp(found[1]), _timestamp(found[2])))
    parts.sort(key=lambda part: (part.end is None, part.start or dt.datetime.min.replace(tzinfo=UTC)))
    return parts


def _timestamp(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).astimezone(UTC) if text else None


def _name_for(start: dt.datetime) -> str:
    return f"{LOGS}_p{start:%Y%m%d}"


def partitions_create_ahead(*, now: dt.datetime, ahead: int, period: str) -> list[str]:
    """Make the partitions of the current period and of `ahead` periods after it that do not exist (a range that
    overlaps an existing partition is cut to the part left free). Rows of such a range already in the DEFAULT
    partition move into the new one in the same transaction. Returns the names made."""
    made = []
    start = period_start(now, period)
    for _ in range(ahead + 1):
        end = period_after(start, period)
        if _free_range(start, end, partitions_list()) and (name := _partition_create(start, end)):
            made.append(name)
        start = end
    return made


def _free_range(start: dt.datetime, end: dt.datetime, parts: list[Partition]) -> tuple[dt.datetime, dt.datetime] | None:
    for part in parts:
        if part.end is None:
            continue
        part_start = part.start or dt.datetime.min.replace(tzinfo=UTC)
        if part_start <= start < part.end:
            start = part.end
        elif start < part_start < end:
            end = part_start
    return (start, end) if start < end else None


def _partition_create(start: dt.datetime, end: dt.datetime) -> str | None:
    """Make the partition of what is free of [start, end) as a table of its own, fill it with the DEFAULT
    partition's rows of its range (written before it was made), then ATTACH it: unlike CREATE TABLE ... PARTITION
    OF, which locks the whole log, an ATTACH lets reads and writes of the log go on (it checks the new table and
    the DEFAULT one, both small). None when another run made it meanwhile."""
    with transaction.atomic(), connection.cursor() as cursor:
        _turn(cursor)
        free = _free_range(start, end, partitions_list())
        if free is None:
            return None
        start, end = free
        name = _name_for(start)
        cursor.execute(f"CREATE TABLE {name} (LIKE {LOGS} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)")
        cursor.execute(f"WITH moved AS (DELETE FROM {HELD} WHERE created_at >= %s AND created_at < %s "
                       f"RETURNING {_COLUMNS}) INSERT INTO {name} ({_COLUMNS}) SELECT {_COLUMNS} FROM moved",
                       [start, end])
        cursor.execute(f"ALTER TABLE {LOGS} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return name


@dataclass(frozen=True)
class Retired:
    name: str
    logs: int  # the logs that went with it
    held: int  # its pending logs, kept in the DEFAULT partition
    archived: bool
    locked_seconds: float = 0.0  # how long the log was locked: the detaching transaction
    # Dropping the detached table afterwards (freeing its files), the log unlocked; None: its lock was busy, and
    # the next run drops it.
    dropped_seconds: float | None = 0.0


# A detached partition waiting to be dropped: renamed so in the detaching transaction, dropped in a transaction of its
# own (freeing a month's files takes the filesystem most of a second, which the log's lock need not wait for); one
# left by a run that died in between is dropped by the next.
RETIRED_SUFFIX = "_retired"


def partitions_retire(*, now: dt.datetime, retention_days: int, archive: bool = False,
                      batch: int = 1000) -> tuple[list[Retired], list[str]]:
    """Retire every partition wholly older than `retention_days`. First its finished logs' provider calls are
    deleted, `batch` calls per transaction (with `archive`, copied first to `<name>_calls`). Then one short
    transaction detaches it, moves its pending logs into the log (they land in the DEFAULT partition with their
    own created_at: still visible, still delivered), makes the rollup's hours of its range count what is left in
    them, and either renames it to be dropped, which a transaction of its own then does with the log unlocked, or
    with `archive` keeps it as a table of its finished logs for pg_dump.

    The DETACH is not CONCURRENTLY: PostgreSQL refuses that while a DEFAULT partition exists, and the DEFAULT
    partition is what keeps a send from failing when no partition was made for its time. A plain DETACH is a
    catalog change under the log's exclusive lock, held for the few statements of that transaction; if the lock
    is not had within LOCK_TIMEOUT, the partition waits for the next run. Returns (retired, put off)."""
    cutoff = now - dt.timedelta(days=retention_days)
    retired, put_off = [], []
    _leftovers_drop()
    for part in partitions_list():
        if part.end is None or part.end > cutoff:
            continue
        seen_pending = _calls_retire(part.name, archive=archive, batch=batch)
        try:
            done = _partition_retire(part, seen_pending=seen_pending, archive=archive)
        except OperationalError as err:
            if not isinstance(err.__cause__, LockNotAvailable):
                raise
            put_off.append(part.name)
        else:
            if done is not None:
                retired.append(done)
    return retired, put_off


def _calls_retire(table: str, *, archive: bool, batch: int) -> list[int]:
    """Delete (with `archive`, move to `<table>_calls`) the provider calls of the partition's finished logs,
    `batch` calls per transaction, walking the calls' (log, id) index over the partition's range of log ids
    (joined to the partition, so a neighbour's log in that range keeps its calls): the cost follows the calls,
    not the logs. Those of its pending logs stay with them. Returns the pending logs' ids (one that finishes
    before the partition is detached has its calls taken then)."""
    calls = ProviderCall._meta.db_table
    with connection.cursor() as cursor:
        if archive:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {table}_calls (LIKE {calls})")
        cursor.execute(f"SELECT min(id), max(id) FROM {table}")
        low, high = cursor.fetchone()
        cursor.execute(f"SELECT id FROM {table} WHERE status = %s", [NotificationStatus.PENDING])
        pending = [row[0] for row in cursor.fetchall()]
    after = (0, 0)  # the last (log id, call id) taken: each batch starts past it, not over what was deleted
    while low is not None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT c.log_id, c.id FROM {calls} c JOIN {table} l ON l.id = c.log_id "
                           f"WHERE c.log_id BETWEEN %s AND %s AND (c.log_id, c.id) > (%s, %s) AND l.status <> %s "
                           f"ORDER BY c.log_id, c.id LIMIT %s",
                           [low, high, *after, NotificationStatus.PENDING, batch])
            rows = cursor.fetchall()
            if not rows:
                break
            _calls_take([call_id for _, call_id in rows], archive=table if archive else None)
        after = rows[-1]
    return pending


def _calls_take(call_ids: list[int], *, archive: str | None) -> None:
    if not call_ids:
        return
    calls = ProviderCall._meta.db_table
    with connection.cursor() as cursor:
        if archive:
            cursor.execute(f"INSERT INTO {archive}_calls SELECT * FROM {calls} WHERE id = ANY(%s)", [call_ids])
        cursor.execute(f"DELETE FROM {calls} WHERE id = ANY(%s)", [call_ids])


def _partition_retire(part: Partition, *, seen_pending: list[int], archive: bool) -> Retired | None:
    """None when another run retired it meanwhile. Its logs are counted from the rollup, which counts them
    exactly: a count(*) read every row of a month (2.7 s at 3.3 million, and the page pruning it set off
    wrote 375 MB of WAL), where detaching the partition takes a few milliseconds."""
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        _turn(cursor)
        if part.name not in {attached.name for attached in partitions_list()}:
            return None
        cursor.execute(f"ALTER TABLE {LOGS} DETACH PARTITION {part.name}")
        logs = sum(rollup_counts(part.start, part.end).values())
        cursor.execute(f"WITH moved AS (DELETE FROM {part.name} WHERE status = %s RETURNING {_COLUMNS}) "
                       f"INSERT INTO {LOGS} ({_COLUMNS}) SELECT {_COLUMNS} FROM moved", [NotificationStatus.PENDING])
        held = cursor.rowcount
        if seen_pending:  # the calls of logs that finished since they were walked (the others have moved)
            cursor.execute(f"SELECT c.id FROM {ProviderCall._meta.db_table} c JOIN {part.name} l ON l.id = c.log_id "
                           f"WHERE c.log_id = ANY(%s)", [seen_pending])
            _calls_take([row[0] for row in cursor.fetchall()], archive=part.name if archive else None)
        _rollup_rewrite(part.start, part.end)
        if archive:  # a record now: a template deleted later must not be held up by it
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                           [part.name])
            for (name,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {part.name} DROP CONSTRAINT {name}")
        else:
            cursor.execute(f"ALTER TABLE {part.name} RENAME TO {part.name}{RETIRED_SUFFIX}")
    locked = time.monotonic() - started
    dropped = archive or _table_drop(f"{part.name}{RETIRED_SUFFIX}")
    return Retired(name=part.name, logs=logs, held=held, archived=archive, locked_seconds=locked,
                   dropped_seconds=time.monotonic() - started - locked if dropped else None)


def _table_drop(name: str) -> bool:
    """Drop a detached partition; one whose lock is not had within LOCK_TIMEOUT is left to the next run's
    `_leftovers_drop` (it is out of the log already, so its partition is retired all the same). Whether it went."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    except OperationalError as err:
        if not isinstance(err.__cause__, LockNotAvailable):
            raise
        return False
    return True


def _leftovers_drop() -> None:
    """Drop the detached partitions a run that died after detaching them left behind."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ %s",
                       [f"^{LOGS}_p[0-9]+{RETIRED_SUFFIX}$"])
        leftovers = [row[0] for row in cursor.fetchall()]
    for name in leftovers:
        _table_drop(name)


def _rollup_rewrite(start: dt.datetime | None, end: dt.datetime) -> None:
    """Make the rollup's hours in [start, end) count what is left of them (the held pending logs), in the
    retiring transaction: its other logs are gone with the partition. The rollup is locked against writers
    meanwhile (a delivery of a held log waits a moment), so nothing is counted twice or lost."""
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {LogCount._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
    hours = LogCount.objects.filter(hour__lt=hour_of(end))
    left = NotificationLog.objects.filter(created_at__lt=end)
    if start is not None:
        hours, left = hours.filter(hour__gte=hour_of(start)), left.filter(created_at__gte=start)
    hours.delete()
    counts_add(real_counts_of(left))


@dataclass(frozen=True)
class Maintenance:
    made: list[str]
    retired: list[Retired]
    put_off: list[str]  # partitions past the retention whose lock was not had in time: the next run's


def partitions_maintain(*, now: dt.datetime, ahead: int, period: str, retention_days: int | None,
                        archive: bool = False) -> Maintenance:
    """One maintenance run: make partitions ahead, then retire those past `retention_days` (None or 0: none)."""
    made = partitions_create_ahead(now=now, ahead=ahead, period=period)
    retired, put_off = (partitions_retire(now=now, retention_days=retention_days, archive=archive)
                        if retention_days else ([], []))
    return Maintenance(made=made, retired=retired, put_off=put_off)
