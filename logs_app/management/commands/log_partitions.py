"""manage.py log_partitions: make the delivery log's partitions (and its provider calls') ahead and retire those
past the retention (PostgreSQL; logs_app/partitions.py, logs_app/retirement.py). Beat runs it daily, the CronJob
nightly with the retention."""

import argparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from logs_app.partitions import LOCK_TIMEOUT, LOG, is_partitioned
from logs_app.retirement import Retired, partitions_maintain
from logs_app.pipeline.request import idempotency_keys_purge


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {low} on.")
        return value
    return parse


class Command(BaseCommand):
    help = ("Make the partitions of the delivery log and of its provider calls for this period and the next AHEAD "
            "ones, then (with --retention-days) retire each partition wholly older than DAYS: its pending logs and "
            "their calls are kept (moved to the DEFAULT partitions), its counts leave the rollup, and it is detached "
            "and dropped, or with --archive kept as a detached table. Also deletes idempotency keys past their "
            "window. PostgreSQL only; on SQLite the log is one table and purge_logs does retention.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ahead", type=_at_least(0), default=settings.LOG_PARTITIONS_AHEAD, metavar="N",
                            help="Periods to make ahead of the current one (default LOG_PARTITIONS_AHEAD).")
        parser.add_argument("--retention-days", type=_at_least(1), dest="retention_days", metavar="DAYS",
                            help="Retire partitions wholly older than DAYS days (default: retire none).")
        parser.add_argument("--archive", action="store_true",
                            help="Keep retired partitions as detached tables (for pg_dump) instead of dropping them.")

    def handle(self, *args, **options) -> None:
        if not is_partitioned():
            raise CommandError("The delivery log is not partitioned here (PostgreSQL only); use purge_logs.")
        now = timezone.now()
        done = partitions_maintain(now=now, ahead=options["ahead"], period=settings.LOG_PARTITION_PERIOD,
                                   retention_days=options["retention_days"], archive=options["archive"])
        made = done.made
        self.stdout.write(f"Made {len(made)} partition{'s' if len(made) != 1 else ''}"
                          f"{': ' + ', '.join(made) if made else ''}.")
        retirement = done.retirement
        for part in retirement.retired:
            self.stdout.write(_retired_line(part))
        for name in retirement.put_off:
            self.stdout.write(f"Put off {name}: its table was busy past {LOCK_TIMEOUT}; the next run retires it.")
        for name in retirement.waiting:
            self.stdout.write(f"Put off {name}: the logs of its period are not all retired yet; the next run "
                              f"retires it.")
        if retirement.held_deleted:
            self.stdout.write(f"Deleted {retirement.held_deleted} finished held log"
                              f"{'s' if retirement.held_deleted != 1 else ''} past the retention.")
        anything = retirement.retired or retirement.put_off or retirement.waiting
        if options["retention_days"] is not None and not anything:
            self.stdout.write(f"No partition is wholly older than {options['retention_days']} days.")
        keys = idempotency_keys_purge(now=now)
        self.stdout.write(f"Deleted {keys} idempotency key{'s' if keys != 1 else ''} past their window.")


def _retired_line(part: Retired) -> str:
    verb = "Detached (kept for archive)" if part.archived else "Dropped"
    if part.table is LOG:
        what, locked = f"{part.rows} logs, {part.held} pending kept", "the log was"
    else:
        what, locked = f"about {part.rows} provider calls, {part.held} of held logs kept", "the calls were"
    timing = f"{locked} locked for {part.locked_seconds * 1000:.0f} ms"
    if part.dropped_seconds is None:
        timing += f"; the detached table's lock was busy past {LOCK_TIMEOUT}: the next run drops it"
    elif not part.archived:
        timing += f", then dropping the detached table took {part.dropped_seconds * 1000:.0f} ms"
    return f"{verb} {part.name}: {what} ({timing})."
