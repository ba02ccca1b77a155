"""The inbox's events in the outbox: `notification.seen`, `.read` and `.archived`, written in the transaction
that marks the feed messages.

`inbox_outbox_write` listens on the inbox's `feed_changed` (sent inside the marking transaction, naming only
the messages whose state the mark altered), so marking a message twice sends one event, and an event
commits or rolls back with the mark. A message is told of through its log: the log's client owns the
endpoints that hear of it, and the payload is the log's, as for its other events, with the feed message's
id and kind. A message written without a log (no client) is told to nobody. Marking read also sees a
message that was unseen; that sends `notification.read` alone (a receiver reads "read" as "seen" too).
"""

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.db import transaction

from inbox_app.events import ARCHIVED, READ, SEEN, FeedChange
from inbox_app.models import FeedMessage
from logs_app.models import NotificationLog
from logs_app.pipeline.events import log_change

from .dispatch import events_enqueue
from .models import EventType, WebhookEvent
from .outbox import clients_endpoints, event_payload, new_webhook_id

MARK_EVENTS = {SEEN: EventType.SEEN, READ: EventType.READ, ARCHIVED: EventType.ARCHIVED}
# Messages read per query: "mark all" may alter a whole feed in one change.
READ_CHUNK = 1000


def _messages_logs(message_ids: Sequence[int]) -> list[tuple[int, str, NotificationLog]]:
    """(message id, kind, log) of each message written by a log, in message order."""
    found: list[tuple[int, str, NotificationLog]] = []
    for start in range(0, len(message_ids), READ_CHUNK):
        rows = list(FeedMessage.objects.filter(id__in=message_ids[start:start + READ_CHUNK], log_id__isnull=False)
                    .order_by("id").values_list("id", "kind", "log_id"))
        logs = NotificationLog.objects.filter(pk__in=[log_id for _, _, log_id in rows]).exclude(client="").in_bulk()
        found.extend((message_id, kind, logs[log_id]) for message_id, kind, log_id in rows if log_id in logs)
    return found


def inbox_event_payload(log: NotificationLog, *, event_type: str, message_id: int, kind: str,
                        change: FeedChange) -> dict[str, Any]:
    """A log event's payload at the time of the mark; the log's status has not changed (no previous one)."""
    payload = event_payload(dataclasses.replace(log_change(log, old_status=""), at=change.at), event_type)
    payload["data"].update(previous_status=None, feed_message_id=message_id, kind=kind or None)
    return payload


def inbox_outbox_write(sender: object, change: FeedChange, **kwargs: object) -> None:
    """Receiver of `feed_changed`: one event per altered message, for every endpoint of its log's client that
    wants the mark's type, queued at the commit."""
    event_type = MARK_EVENTS.get(change.action)
    if event_type is None or not change.message_ids:
        return
    found = _messages_logs(change.message_ids)
    if not found:
        return
    endpoints = clients_endpoints({log.client for _, _, log in found})
    events = []
    for message_id, kind, log in found:
        for endpoint_id, wanted in endpoints.get(log.client, ()):
            if not wanted or event_type in wanted:
                events.append(WebhookEvent(
                    endpoint_id=endpoint_id, webhook_id=new_webhook_id(), event_type=event_type, log_id=log.pk,
                    payload=inbox_event_payload(log, event_type=event_type, message_id=message_id, kind=kind,
                                                change=change),
                    next_attempt_at=change.at, queued_at=change.at, created_at=change.at))
    if not events:
        return
    WebhookEvent.objects.bulk_create(events, batch_size=2000)
    ids = [event.pk for event in events]
    transaction.on_commit(lambda: events_enqueue(event_ids=ids))
