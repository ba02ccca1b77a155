"""The audit of every attempt: each provider call the delivery stage made, as rows of ProviderCall."""

from collections.abc import Iterable

from notification_channels.base import ChannelError
from notification_channels.base import ProviderCall as Call

from ..models import NotificationLog, ProviderCall


def describe(err: ChannelError) -> str:
    """A provider's error as the log shows it: its text, and its code when the text lacks it."""
    return f"{err} (code {err.code})" if err.code not in (None, "") and str(err.code) not in str(err) else str(err)


def call_rows(*, log: NotificationLog, calls: Iterable[Call]) -> list[ProviderCall]:
    """Unsaved rows for the calls made in the log's current attempt."""
    return [ProviderCall(log_id=log.pk, attempt=log.attempts, provider=call.provider[:50], started_at=call.started_at,
                         duration_ms=call.duration_ms, outcome=str(call.outcome),
                         error="" if call.error is None else describe(call.error),
                         provider_message_id=call.message_id[:255])
            for call in calls]


def calls_write(rows: list[ProviderCall]) -> None:
    """Insert the rows in one statement."""
    if rows:
        ProviderCall.objects.bulk_create(rows)
