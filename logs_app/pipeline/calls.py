"""The audit of every attempt: each provider call the delivery stage made, as rows of ProviderCall."""

from collections.abc import Iterable

from django.db import connection

from kit.sql import rows_insert
from notification_channels.base import ChannelError
from notification_channels.base import ProviderCall as Call

from ..models import NotificationLog, ProviderCall


def describe(err: ChannelError) -> str:
    """A provider's error as the log shows it: its text, and its code when the text lacks it."""
    return f"{err} (code {err.code})" if err.code not in (None, "") and str(err.code) not in str(err) else str(err)


def call_rows(*, log: NotificationLog, calls: Iterable[Call]) -> list[ProviderCall]:
    """Unsaved rows for the calls made in the log's current attempt. A call's start is never put before its log's
    creation (hosts' clocks may differ by a moment): on PostgreSQL the calls are partitioned by their start with
    the log's boundaries, and retiring a period relies on no call of its logs lying in an earlier one."""
    return [ProviderCall(log_id=log.pk, attempt=log.attempts, provider=call.provider[:50],
                         started_at=max(call.started_at, log.created_at) if log.created_at else call.started_at,
                         duration_ms=call.duration_ms, outcome=str(call.outcome),
                         error="" if call.error is None else describe(call.error),
                         provider_message_id=call.message_id[:255])
            for call in calls]


_COLUMNS = ("log_id", "attempt", "provider", "started_at", "duration_ms", "outcome", "error", "provider_message_id")


def calls_write(rows: list[ProviderCall]) -> None:
    """Insert the rows in one statement.

    Plain SQL (one INSERT with a VALUES list, PostgreSQL and SQLite alike): the ORM's bulk_create cost the
    delivery loop more Python time than the rest of its `sent` write, and the rows' ids are not needed.
    """
    started_at = ProviderCall._meta.get_field("started_at")
    rows_insert(table=ProviderCall._meta.db_table, columns=_COLUMNS, rows=[
        (row.log_id, row.attempt, row.provider, started_at.get_db_prep_value(row.started_at, connection),
         row.duration_ms, row.outcome, row.error, row.provider_message_id) for row in rows])
