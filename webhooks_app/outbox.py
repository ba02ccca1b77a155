"""The outbox: an event row per (endpoint, change) written in the transaction of the change itself.

`outbox_write` listens on the pipeline's `logs_changed` (sent inside the writing transaction), so an
event commits or rolls back with the status change that causes it: a crash between the change and its
delivery loses nothing, since delivery reads the committed rows. The hot path stays cheap: the
enabled endpoints of the clients in a batch of changes are read in one shared-cache round trip, and
a client with none (the common case) costs nothing more; otherwise one INSERT per batch of changes.
"""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.db import transaction
from django.utils import timezone

from apikeys_app.services import api_key_prefix_of
from kit.cache import cache_forget, cache_remember, cached_or_none, prefetched
from logs_app.models import NotificationStatus
from logs_app.pipeline.events import LogChange

from .dispatch import events_enqueue
from .models import EventType, WebhookEndpoint, WebhookEvent

ENDPOINTS_CACHE_SECONDS = 300

# The event a log's new status tells of (the inbox's seen/read/archived: webhooks_app/inbox_events.py).
STATUS_EVENTS = {
    NotificationStatus.PENDING: EventType.ACCEPTED,
    NotificationStatus.SENT: EventType.SENT,
    NotificationStatus.DELIVERED: EventType.DELIVERED,
    NotificationStatus.BOUNCED: EventType.BOUNCED,
    NotificationStatus.FAILED: EventType.FAILED,
    NotificationStatus.SUPPRESSED: EventType.SUPPRESSED,
}


def _cache_key(client: str) -> str:
    return f"webhooks:endpoints:{client}"


def client_endpoints_forget(client: str) -> None:
    """Drop the cached endpoints of `client`, now and again at the commit (a reader between the two
    may have cached what it read before the change committed)."""
    cache_forget([_cache_key(client)])


def endpoints_read_ahead(request: HttpRequest) -> list[str]:
    """The cache entry of the endpoints of the request's API key, for the rate limiter to read in its round
    trip (a source handed to it from the AppConfig): a request that changes a log finds it there."""
    prefix = api_key_prefix_of(request.headers.get("Authorization"))
    return [_cache_key(prefix)] if prefix and request.method not in ("GET", "HEAD", "OPTIONS") else []


def clients_endpoints(clients: Iterable[str]) -> dict[str, list[tuple[int, list[str]]]]:
    """Each client's enabled endpoints as (id, event types wanted) pairs: one cache round trip (none for an
    entry the request read ahead), and one query for the clients not cached (whose answer, none included,
    is cached then)."""
    keys = {_cache_key(client): client for client in clients}
    with prefetched(keys):
        found = cached_or_none(keys)
    endpoints = {keys[key]: value for key, value in found.items()}
    missing = [client for client in keys.values() if client not in endpoints]
    if missing:
        read: dict[str, list[tuple[int, list[str]]]] = {client: [] for client in missing}
        for endpoint_id, client, event_types in (WebhookEndpoint.objects.filter(client__in=missing, enabled=True)
                                                 .order_by("id").values_list("id", "client", "event_types")):
            read[client].append((endpoint_id, event_types))
        cache_remember({_cache_key(client): value for client, value in read.items()}, ENDPOINTS_CACHE_SECONDS)
        endpoints.update(read)
    return endpoints


def event_payload(change: LogChange, event_type: str) -> dict[str, Any]:
    """What the receiver reads: the event's type and time, and the log as the change left it (no bodies:
    an endpoint that opts in gets them added at delivery)."""
    return {
        "type": event_type,
        "timestamp": change.at.isoformat(),
        "data": {
            "id": change.log_id,
            "user_id": change.user_id,
            "channel": change.channel,
            "template": change.template_name,
            "status": change.new_status,
            "previous_status": change.old_status or None,
            "provider": change.provider or None,
            "error": change.error_message or None,
            "trigger_id": str(change.trigger_id) if change.trigger_id else None,
            "batch_id": str(change.batch_id) if change.batch_id else None,
            "idempotency_key": change.idempotency_key,
        },
    }


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def outbox_write(sender: object, changes: Sequence[LogChange], **kwargs: object) -> None:
    """Receiver of `logs_changed`: write the events the changes cause, for every endpoint that wants them,
    and queue them at the commit."""
    clients = {change.client for change in changes if change.client}
    if not clients:
        return
    endpoints = clients_endpoints(clients)
    if not any(endpoints.values()):
        return
    now = timezone.now()
    events = []
    for change in changes:
        event_type = STATUS_EVENTS.get(change.new_status)
        for endpoint_id, wanted in endpoints.get(change.client, ()):
            if event_type and (not wanted or event_type in wanted):
                events.append(WebhookEvent(endpoint_id=endpoint_id, webhook_id=new_webhook_id(), event_type=event_type,
                                           log_id=change.log_id, payload=event_payload(change, event_type),
                                           next_attempt_at=now, queued_at=now, created_at=now))
    if not events:
        return
    WebhookEvent.objects.bulk_create(events, batch_size=2000)
    ids = [event.pk for event in events]
    transaction.on_commit(lambda: events_enqueue(event_ids=ids))
