"""Retiring the partitions past the retention (PostgreSQL; logs_app/partitions.py lays them out): the log's and
its provider calls', a month (or a week) at a time, each in one short transaction that detaches the partition and
moves out what must stay, then a drop with nothing locked but the detached table. No row of a retired partition
is deleted one by one, so a month goes in catalog changes and kilobytes of WAL.

What stays: a log still pending (owed a retry) moves to the log's DEFAULT partition with its own created_at, and
the calls of the logs there move to the calls' DEFAULT partition when their own partition retires. A log's calls
start in its period or later (logs_app/partitions.py), so the calls partition of a period retires once the logs
of that period and every earlier one have; the few calls a retry made in a later period than its log's are
deleted when the log retires. The DEFAULT partition's own finished logs past the retention are deleted row by row
with their calls: they are the few that were held."""

import datetime as dt
import time
from dataclasses import dataclass, field

from django.db import OperationalError, connection, transaction
from psycopg.errors import LockNotAvailable

from .models import FINAL_STATUSES, LogCount, NotificationLog, NotificationStatus, ProviderCall
from .partitions import (CALLS, HELD, LOCK_TIMEOUT, LOG, LOGS, TABLES, Partition, Table, is_partitioned,
                         partitions_create_ahead, partitions_list, turn_take)
from .privacy import logs_delete
from .rollup import counts_add, hour_of, real_counts_of, rollup_counts

# A detached partition waiting to be dropped: renamed so in the detaching transaction, dropped in a transaction of its
# own (freeing a month's files takes the filesystem most of a second, which the table's lock need not wait for); one
# left by a run that died in between is dropped by the next.
RETIRED_SUFFIX = "_retired"


@dataclass(frozen=True)
class Retired:
    table: Table
    name: str
    rows: int  # the log's: exact (the rollup counts them); the calls': the planner's estimate
    held: int  # the log's: its pending logs, kept; the calls': those of kept logs, kept
    archived: bool
    locked_seconds: float = 0.0  # how long the table was locked: the detaching transaction
    # Dropping the detached table afterwards (freeing its files), nothing else locked; None: its lock was busy, and
    # the next run drops it.
    dropped_seconds: float | None = 0.0


@dataclass(frozen=True)
class Retirement:
    retired: list[Retired] = field(default_factory=list)
    put_off: list[str] = field(default_factory=list)  # past the retention, its lock not had in time: the next run's
    waiting: list[str] = field(default_factory=list)  # calls partitions whose period's logs were put off
    held_deleted: int = 0  # finished logs of the log's DEFAULT partition past the retention, deleted


def partitions_retire(*, now: dt.datetime, retention_days: int, archive: bool = False) -> Retirement:
    """Retire every partition of the log, then of the calls, wholly older than `retention_days`: each is detached
    in one short transaction and then dropped, or with `archive` kept as a plain table of what went (for pg_dump).
    Then the finished logs of the log's DEFAULT partition past the retention are deleted with their calls.

    The DETACH is not CONCURRENTLY: PostgreSQL refuses that while a DEFAULT partition exists, and the DEFAULT
    partition is what keeps a write from failing when no partition was made for its time. A plain DETACH is a
    catalog change under the table's exclusive lock, held for the few statements of that transaction; if the lock
    is not had within LOCK_TIMEOUT, the partition is put off to the next run, and so is every calls partition
    whose logs' partitions are not all retired yet (the calls of their pending logs are not known to be kept)."""
    cutoff = now - dt.timedelta(days=retention_days)
    retired, put_off, waiting = [], [], []
    _leftovers_drop()
    for table in TABLES:
        if not is_partitioned(table):
            continue
        for part in partitions_list(table):
            if part.end is None or part.end > cutoff:
                continue
            if table is CALLS and not _logs_retired_until(part.end):
                waiting.append(part.name)
                continue
            try:
                done = _log_partition_retire(part, archive) if table is LOG else _calls_partition_retire(part, archive)
            except OperationalError as err:
                if not isinstance(err.__cause__, LockNotAvailable):
                    raise
                put_off.append(part.name)
            else:
                if done is not None:
                    retired.append(done)
    return Retirement(retired, put_off, waiting, _held_delete(cutoff))


@dataclass(frozen=True)
class Maintenance:
    made: list[str]
    retirement: Retirement


def partitions_maintain(*, now: dt.datetime, ahead: int, period: str, retention_days: int | None,
                        archive: bool = False) -> Maintenance:
    """One maintenance run: make partitions ahead, then retire those past `retention_days` (None or 0: none)."""
    made = partitions_create_ahead(now=now, ahead=ahead, period=period)
    retirement = (partitions_retire(now=now, retention_days=retention_days, archive=archive)
                  if retention_days else Retirement())
    return Maintenance(made=made, retirement=retirement)


def _logs_retired_until(end: dt.datetime) -> bool:
    """Whether no log partition before `end` is left (the DEFAULT one aside)."""
    return all(part.start is not None and part.start >= end for part in partitions_list(LOG) if part.end is not None)


def _attached(table: Table, name: str) -> bool:
    return name in {part.name for part in partitions_list(table)}


def _log_partition_retire(part: Partition, archive: bool) -> Retired | None:
    """Detach a log partition, move its pending logs into the log (they land in the DEFAULT partition with their
    own created_at: still visible, still delivered), delete its logs' calls that started in a later period (a
    retry across the boundary; with `archive` they stay, to be archived with their period), and make the
    rollup's hours of its range count what is left in them. None when another run retired it meanwhile. Its logs
    are counted from the rollup, which counts them exactly: a count(*) would read every row of a month."""
    started = time.monotonic()
    with transaction.atomic(), connection.cursor() as cursor:
        turn_take(cursor)
        if not _attached(LOG, part.name):
            return None
        cursor.execute(f"ALTER TABLE {LOGS} DETACH PARTITION {part.name}")
        logs = sum(rollup_counts(part.start, part.end).values())
        cursor.execute(f"WITH moved AS (DELETE FROM {part.name} WHERE status = %s RETURNING {LOG.columns}) "
                       f"INSERT INTO {LOGS} ({LOG.columns}) SELECT {LOG.columns} FROM moved",
                       [NotificationStatus.PENDING])
        held = cursor.rowcount
        if not archive and is_partitioned(CALLS):
            _late_calls_delete(cursor, part)
        _rollup_rewrite(part.start, part.end)
        if archive:  # a record now: a template deleted later must not be held up by it
            cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                           [part.name])
            for (name,) in cursor.fetchall():
                cursor.execute(f"ALTER TABLE {part.name} DROP CONSTRAINT {name}")
        else:
            cursor.execute(f"ALTER TABLE {part.name} RENAME TO {part.name}{RETIRED_SUFFIX}")
    return _finish(LOG, part, rows=logs, held=held, archive=archive, started=started)


def _late_calls_delete(cursor, part: Partition) -> None:
    """Delete the calls of the detached partition's logs that started at or after its end: found through the
    calls' (log, id) index over the partition's range of log ids, in the calls partitions from its end on (where
    that range holds only such calls), each checked against the partition (a neighbour's log in the range keeps
    its calls)."""
    cursor.execute(f"SELECT min(id), max(id) FROM {part.name}")
    low, high = cursor.fetchone()
    if low is not None:
        cursor.execute(f"DELETE FROM {CALLS.name} c USING {part.name} l WHERE l.id = c.log_id "
                       f"AND c.log_id BETWEEN %s AND %s AND c.started_at >= %s", [low, high, part.end])


def _calls_partition_retire(part: Partition, archive: bool) -> Retired | None:
    """Detach a calls partition and move the calls of the logs still kept in the log's DEFAULT partition into the
    calls' (every other log of its period has retired). None when another run retired it meanwhile."""
    started = time.monotonic()
    columns = ", ".join(f"c.{column}" for column in CALLS.columns.split(", "))
    with transaction.atomic(), connection.cursor() as cursor:
        turn_take(cursor)
        if not _attached(CALLS, part.name):
            return None
        cursor.execute(f"ALTER TABLE {CALLS.name} DETACH PARTITION {part.name}")
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [part.name])
        calls = cursor.fetchone()[0]
        if calls < 0:  # never analyzed (a small table, or autovacuum is off): count it
            cursor.execute(f"SELECT count(*) FROM {part.name}")
            calls = cursor.fetchone()[0]
        cursor.execute(f"WITH kept AS (DELETE FROM {part.name} c USING {HELD} l WHERE l.id = c.log_id "
                       f"RETURNING {columns}) INSERT INTO {CALLS.name} ({CALLS.columns}) "
                       f"SELECT {CALLS.columns} FROM kept")
        held = cursor.rowcount
        if not archive:
            cursor.execute(f"ALTER TABLE {part.name} RENAME TO {part.name}{RETIRED_SUFFIX}")
    return _finish(CALLS, part, rows=max(calls - held, 0), held=held, archive=archive, started=started)


def _finish(table: Table, part: Partition, *, rows: int, held: int, archive: bool, started: float) -> Retired:
    locked = time.monotonic() - started
    dropped = archive or _table_drop(f"{part.name}{RETIRED_SUFFIX}")
    return Retired(table=table, name=part.name, rows=rows, held=held, archived=archive, locked_seconds=locked,
                   dropped_seconds=time.monotonic() - started - locked if dropped else None)


def _table_drop(name: str) -> bool:
    """Drop a detached partition; one whose lock is not had within LOCK_TIMEOUT is left to the next run's
    `_leftovers_drop` (it is out of its table already, so its partition is retired all the same). Whether it
    went."""
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
                       [f"^({'|'.join(table.name for table in TABLES)})_p[0-9]+{RETIRED_SUFFIX}$"])
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


def _held_delete(cutoff: dt.datetime, batch: int = 1000) -> int:
    """Delete the finished logs of the log's DEFAULT partition created before `cutoff` (held when their partition
    retired, or written when none was made), with their calls, `batch` per transaction, through its created_at
    index. How many went."""
    if not is_partitioned(LOG):
        return 0
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {HELD} WHERE created_at < %s AND status = ANY(%s) ORDER BY created_at "
                           f"LIMIT %s FOR UPDATE", [cutoff, list(FINAL_STATUSES), batch])
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return deleted
            logs_delete(NotificationLog.objects.filter(pk__in=ids), ProviderCall.objects.filter(log_id__in=ids))
        deleted += len(ids)
