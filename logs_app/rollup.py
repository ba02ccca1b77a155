"""The rollup of the delivery log: counts per hour (of creation, UTC) x channel x provider x status.

Kept by a `logs_changed` receiver inside the transaction that writes the statuses, so it commits or rolls back
with them: each change takes one from its old status and adds one to its new one, the deltas of a call are
summed in Python and written with one INSERT ... ON CONFLICT DO UPDATE (PostgreSQL and SQLite alike).
The purge takes off what it deletes in its own transactions. The dashboard and /metrics read these rows
(thousands) instead of the logs (millions); `manage.py log_counts_check` compares them with a real count
and `--repair` rewrites a window from the logs.

A pending log counts under provider '': a retry writes the provider that failed without a change of status,
so a pending log's provider is not known to the change that ends it. Each key is spread over SHARDS rows
(`shard`, summed on read): writers that move the same hot key (this hour, sms, twilio, sent) pick one at
random and so seldom wait for each other's row lock; large writes (a bulk or trigger chunk, which hold
their locks until the whole send commits) take shards of their own, so single sends never wait for them.
"""

import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncHour

from kit.sql import rows_insert

from .models import LogCount, NotificationLog, NotificationStatus
from .pipeline.events import LogChange, logs_changed

SHARDS = 8  # per key for small writes; as many again, above these, for large ones
LARGE_WRITE = 100  # changes in one call from which a write counts as large
UTC = dt.timezone.utc

Key = tuple[dt.datetime, str, str, str]  # hour, channel, provider ('' while pending), status


def hour_of(moment: dt.datetime) -> dt.datetime:
    """The start of the UTC hour `moment` falls in: a log's bucket."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def counted_provider(status: str, provider: str | None) -> str:
    return "" if status == NotificationStatus.PENDING else provider or ""


def change_deltas(changes: Iterable[LogChange]) -> Counter[Key]:
    """What `changes` do to the counts: the old status's key loses one, the new status's gains one."""
    deltas: Counter[Key] = Counter()
    for change in changes:
        hour = hour_of(change.created_at)
        if change.old_status:
            deltas[(hour, change.channel, counted_provider(change.old_status, change.provider), change.old_status)] -= 1
        deltas[(hour, change.channel, counted_provider(change.new_status, change.provider), change.new_status)] += 1
    return deltas


def counts_add(deltas: Counter[Key], *, large: bool = False) -> None:
    """Add `deltas` to the rollup in the current transaction: one statement, keys in a fixed order (so two
    writers lock shared rows in the same order), on one shard chosen at random."""
    rows = sorted((key, delta) for key, delta in deltas.items() if delta)
    if not rows:
        return
    shard = random.randrange(SHARDS) + (SHARDS if large else 0)
    hour_field = LogCount._meta.get_field("hour")
    table = LogCount._meta.db_table
    rows_insert(table=table, columns=("hour", "channel", "provider", "status", "shard", "count"),
                rows=[(hour_field.get_db_prep_value(hour, connection), channel, provider, status, shard, delta)
                      for (hour, channel, provider, status), delta in rows],
                suffix=f"ON CONFLICT (hour, channel, provider, status, shard) DO UPDATE SET count = {table}.count + "
                       "EXCLUDED.count")


def _count_changes(sender: object, *, changes: list[LogChange], **kwargs: object) -> None:
    counts_add(change_deltas(changes), large=len(changes) >= LARGE_WRITE)


def connect_signals() -> None:
    logs_changed.connect(_count_changes, sender=NotificationLog, dispatch_uid="logs_app.rollup")


# Reading -------------------------------------------------------------------------------------


def window_start(now: dt.datetime, hours: int) -> dt.datetime:
    """The first of the `hours` hourly buckets that end with the current one."""
    return hour_of(now) - dt.timedelta(hours=hours - 1)


def counts_since(since: dt.datetime, *fields: str) -> Iterator[dict]:
    """The rollup summed over its shards and the hours from `since` (a bucket start) on, grouped by `fields`
    (of hour, channel, provider, status); each dict has them and `n`, zero counts left out."""
    for group, (n,) in counts_since_each([since], *fields):
        yield {**group, "n": n}


def counts_since_each(starts: Sequence[dt.datetime], *fields: str) -> Iterator[tuple[dict, list[int]]]:
    """`counts_since` from several starts in one read of the rollup: each group of `fields` with its sums from
    each start on, in the order of `starts` (a group whose sums are all zero left out)."""
    sums = {f"n{index}": Sum("count", filter=Q(hour__gte=start)) for index, start in enumerate(starts)}
    for row in (LogCount.objects.filter(hour__gte=min(starts)).values(*fields).annotate(**sums).order_by()):
        counts = [row[f"n{index}"] or 0 for index in range(len(starts))]
        if any(counts):
            yield {name: row[name] for name in fields}, counts


def pending_count() -> int:
    """Pending logs, from the rollup."""
    return LogCount.objects.filter(status=NotificationStatus.PENDING).aggregate(n=Sum("count"))["n"] or 0


def oldest_pending_hour() -> dt.datetime | None:
    """The first hour that still has pending logs, from the rollup: no pending log is older."""
    return (LogCount.objects.filter(status=NotificationStatus.PENDING).values("hour").annotate(n=Sum("count"))
            .filter(n__gt=0).order_by("hour").values_list("hour", flat=True).first())


# Checking and rebuilding ---------------------------------------------------------------------


def _logs_in(start: dt.datetime | None, end: dt.datetime | None) -> QuerySet[NotificationLog]:
    logs = NotificationLog.objects.all()
    if start is not None:
        logs = logs.filter(created_at__gte=start)
    if end is not None:
        logs = logs.filter(created_at__lt=end)
    return logs


def real_counts(start: dt.datetime | None, end: dt.datetime | None) -> dict[Key, int]:
    """A real COUNT(*) of the logs created in [start, end) (None: no bound), grouped as the rollup is."""
    return real_counts_of(_logs_in(start, end))


def rollup_counts(start: dt.datetime | None, end: dt.datetime | None) -> dict[Key, int]:
    """The rollup's counts for the hours in [start, end), summed over shards, zeros left out."""
    rows = LogCount.objects.all()
    if start is not None:
        rows = rows.filter(hour__gte=start)
    if end is not None:
        rows = rows.filter(hour__lt=end)
    summed = rows.values("hour", "channel", "provider", "status").annotate(n=Sum("count")).order_by()
    return {(hour_of(row["hour"]), row["channel"], row["provider"], row["status"]): row["n"]
            for row in summed if row["n"]}


@dataclass(frozen=True)
class Difference:
    key: Key
    rollup: int
    logs: int

    def __str__(self) -> str:
        hour, channel, provider, status = self.key
        return (f"{hour:%Y-%m-%d %H:00} {channel} {provider or '-'} {status}: rollup {self.rollup}, "
                f"logs {self.logs}")


def counts_compare(start: dt.datetime | None, end: dt.datetime | None) -> list[Difference]:
    """Where the rollup and a real count of the logs disagree for the hours in [start, end), in key order."""
    rollup, logs = rollup_counts(start, end), real_counts(start, end)
    return [Difference(key, rollup.get(key, 0), logs.get(key, 0)) for key in sorted(rollup.keys() | logs.keys())
            if rollup.get(key, 0) != logs.get(key, 0)]


def log_span() -> tuple[dt.datetime, dt.datetime] | None:
    """The first and the last hour that has logs or rollup rows, or None when there are neither."""
    first = NotificationLog.objects.aggregate(first=Min("created_at"))["first"]
    last = NotificationLog.objects.order_by("-id").values_list("created_at", flat=True).first()
    hours = LogCount.objects.aggregate(first=Min("hour"), last=Max("hour"))
    moments = [moment for moment in (first, last, hours["first"], hours["last"]) if moment is not None]
    return (hour_of(min(moments)), hour_of(max(moments))) if moments else None


def counts_rebuild(start: dt.datetime, end: dt.datetime, *, step: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Rewrite the rollup for the hours in [start, end) (bucket starts) from a real count, `step` at a time,
    each step in its own transaction. On PostgreSQL the step first locks the rollup against writers (they wait
    for that step only), so no change is counted twice or lost. Returns the rows written."""
    written = 0
    while start < end:
        stop = min(start + step, end)
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"LOCK TABLE {LogCount._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
            LogCount.objects.filter(hour__gte=start, hour__lt=stop).delete()
            rows = [LogCount(hour=hour, channel=channel, provider=provider, status=status, shard=0, count=n)
                    for (hour, channel, provider, status), n in sorted(real_counts(start, stop).items())]
            LogCount.objects.bulk_create(rows, batch_size=1000)
        written += len(rows)
        start = stop
    return written


def real_counts_of(logs: QuerySet[NotificationLog]) -> dict[Key, int]:
    """`logs` counted in one grouped query, by the rollup's key."""
    rows = (logs.annotate(bucket=TruncHour("created_at", tzinfo=UTC),
                          counted=Case(When(status=NotificationStatus.PENDING, then=Value("")), default=F("provider"),
                                       output_field=CharField()))
            .values("bucket", "type", "counted", "status").annotate(n=Count("id")).order_by())
    return {(hour_of(row["bucket"]), row["type"], row["counted"], row["status"]): row["n"] for row in rows}


def counts_subtract(counts: dict[Key, int]) -> None:
    """Take `counts` (of logs deleted in the current transaction, by the purge) off the rollup."""
    counts_add(Counter({key: -n for key, n in counts.items()}), large=True)


def counts_compact() -> int:
    """Delete the rollup's rows that count nothing (a shard of an hour whose pending logs all moved on), so the
    reads that sum every pending row stay as small as the backlog; the purge runs it. A writer that adds to
    such a row meanwhile keeps it (the DELETE rechecks the count once the writer's lock is gone) or, after the
    DELETE, writes it anew. Returns the rows deleted."""
    deleted, _ = LogCount.objects.filter(count=0).delete()
    return deleted
