"""The delivery log's partitions on PostgreSQL. Two tables are range-partitioned by time, with the same boundaries
(a month or a week each, LOG_PARTITION_PERIOD): `notification_logs` by `created_at`, and the provider calls that
audit its attempts, `notification_provider_calls`, by `started_at`. Each has a DEFAULT partition (`<table>_held`)
that takes any row no other partition covers: rows written before the partition ahead was made, and what a
retired partition keeps (pending logs, and their calls). Partitions are made ahead here, and retired (detached,
then dropped or kept) by logs_app/retirement.py; `log_partitions`, which beat and the CronJob run, does both.
Retiring a month costs catalog changes, not a DELETE per row.

The primary keys are (id, created_at) and (id, started_at) there, as PostgreSQL asks of a partitioned table;
Django's models keep `id` as their primary key field, which stays unique because one identity sequence numbers
every row of a table. Rows that point at a log (provider calls, idempotency keys, inbox messages, webhook events)
hold a plain log id, without a foreign key. The embedded SQLite default keeps plain tables and none of this runs
there.
"""

import datetime as dt
import re
from dataclasses import dataclass

from django.db import connection, models, transaction

from .models import NotificationLog, ProviderCall

UTC = dt.timezone.utc
PERIODS = ("month", "week")


@dataclass(frozen=True)
class Table:
    """A table range-partitioned by one timestamp column, with a DEFAULT partition."""

    model: type[models.Model]
    key: str  # the partition key's column

    @property
    def name(self) -> str:
        return self.model._meta.db_table

    @property
    def held(self) -> str:
        """The DEFAULT partition."""
        return f"{self.name}_held"

    @property
    def columns(self) -> str:
        return ", ".join(field.column for field in self.model._meta.concrete_fields)


LOG = Table(NotificationLog, "created_at")
# A call starts after its log was written (logs_app/pipeline/calls.py holds it to that), so a log's calls are in
# its own period's partition or a later one, never an earlier one.
CALLS = Table(ProviderCall, "started_at")
TABLES = (LOG, CALLS)
LOGS, HELD = LOG.name, LOG.held
# How long making or retiring a partition waits for a lock before it gives up (the next run tries again), so a
# long query on the log never has every request queue behind the DETACH.
LOCK_TIMEOUT = "5s"
# The transaction-level advisory lock ('logp') each change of the partitions takes, then checks what it is about to
# do still needs doing: two runs at once (beat and the CronJob) take turns, and it holds behind PgBouncer's
# transaction pooling, where a session-level lock would stay on whichever server connection took it.
_LOCK_KEY = 0x6C6F6770


def turn_take(cursor) -> None:
    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def is_partitioned(table: Table = LOG) -> bool:
    """Whether the table is a partitioned one here (PostgreSQL, after migration 0015 for the log, 0017 for the
    calls)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = to_regclass(%s)", [table.name])
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
_EARLIEST = dt.datetime.min.replace(tzinfo=UTC)


def partitions_list(table: Table = LOG) -> list[Partition]:
    """The table's partitions, bounded ones by their start (MINVALUE first), then the DEFAULT one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) "
                       "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass(%s)",
                       [table.name])
        rows = cursor.fetchall()
    parts = []
    for name, bound in rows:
        found = _BOUND.search(bound)
        if found is None:  # DEFAULT
            parts.append(Partition(name, None, None))
        else:
            parts.append(Partition(name, _timestamp(found[1]), _timestamp(found[2])))
    parts.sort(key=lambda part: (part.end is None, part.start or _EARLIEST))
    return parts


def _timestamp(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text).astimezone(UTC) if text else None


def partitions_create_ahead(*, now: dt.datetime, ahead: int, period: str) -> list[str]:
    """Make the partitions of the current period and of `ahead` periods after it that do not exist, for each table
    partitioned here (a range that overlaps an existing partition is cut to the part left free). Rows of such a
    range already in the DEFAULT partition move into the new one in the same transaction. Returns the names made."""
    made = []
    for table in TABLES:
        if not is_partitioned(table):
            continue
        start = period_start(now, period)
        for _ in range(ahead + 1):
            end = period_after(start, period)
            if _free_range(start, end, partitions_list(table)) and (name := _partition_create(table, start, end)):
                made.append(name)
            start = end
    return made


def _free_range(start: dt.datetime, end: dt.datetime, parts: list[Partition]) -> tuple[dt.datetime, dt.datetime] | None:
    for part in parts:
        if part.end is None:
            continue
        part_start = part.start or _EARLIEST
        if part_start <= start < part.end:
            start = part.end
        elif start < part_start < end:
            end = part_start
    return (start, end) if start < end else None


def _partition_create(table: Table, start: dt.datetime, end: dt.datetime) -> str | None:
    """Make the partition of what is free of [start, end) as a table of its own, fill it with the DEFAULT
    partition's rows of its range (written before it was made), then ATTACH it: unlike CREATE TABLE ... PARTITION
    OF, which locks the whole table, an ATTACH lets reads and writes go on (it checks the new table and the DEFAULT
    one, both small). None when another run made it meanwhile."""
    with transaction.atomic(), connection.cursor() as cursor:
        turn_take(cursor)
        free = _free_range(start, end, partitions_list(table))
        if free is None:
            return None
        start, end = free
        name = f"{table.name}_p{start:%Y%m%d}"
        cursor.execute(f"CREATE TABLE {name} (LIKE {table.name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                       f"INCLUDING STORAGE)")
        cursor.execute(f"WITH moved AS (DELETE FROM {table.held} WHERE {table.key} >= %s AND {table.key} < %s "
                       f"RETURNING {table.columns}) INSERT INTO {name} ({table.columns}) "
                       f"SELECT {table.columns} FROM moved", [start, end])
        cursor.execute(f"ALTER TABLE {table.name} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return name
