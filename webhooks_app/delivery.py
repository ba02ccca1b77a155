"""Delivering webhook events: claimed for one lease, signed per Standard Webhooks with every secret that
signs now, POSTed with a short timeout to a destination checked again when connecting (to the very
address checked: webhooks_app/transport.py), each
attempt recorded; failures retried on a fixed schedule with jitter, then given up. An endpoint that
fails for WEBHOOK_DISABLE_AFTER_HOURS without a success in between is disabled."""

import datetime as dt
import json
import logging
import os
import random
import ssl
import time
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks import Webhook

from kit.dispatch import task_dispatcher
from logs_app.models import NotificationLog

from . import metrics
from .destinations import UnsafeDestination, destination_url_check
from .dispatch import due_filter, events_enqueue
from .models import EventStatus, WebhookAttempt, WebhookEndpoint, WebhookEvent
from .outbox import client_endpoints_forget
from .services import endpoint_signing_secrets
from .transport import CheckedTransport

logger = logging.getLogger(__name__)

# Seconds after the first, second, ... failed attempt before the next; after the last, the event fails.
RETRY_SCHEDULE = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600)
RETRY_JITTER = 0.2  # each delay is drawn from +-20% of the schedule's
# A retry due sooner than this goes to the queue with a countdown; later ones are left to the sweep
# (a broker holding a message for hours is a broker that may lose it).
QUEUE_RETRY_WITHIN_SECONDS = 60
USER_AGENT = "notification-service-webhooks/1"
# An answer's body up to this size is read (and dropped) so that its connection can be used again.
DRAIN_MAX_BYTES = 64 * 1024

_client: httpx.Client | None = None


def _reset_client() -> None:
    global _client
    _client = None


os.register_at_fork(after_in_child=_reset_client)  # a forked worker opens its own connections


def http_client() -> httpx.Client:
    """This process's client: kept connections, each to an address checked when it opened; no redirects
    followed, no proxy."""
    global _client
    if _client is None:
        _client = http_client_new()
    return _client


def http_client_new(*, verify: ssl.SSLContext | bool = True) -> httpx.Client:
    return httpx.Client(transport=CheckedTransport(verify=verify), follow_redirects=False, trust_env=False,
                        headers={"user-agent": USER_AGENT})


def retry_delay(attempts: int) -> float | None:
    """Seconds to wait after `attempts` failed attempts, or None when there are no retries left."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def signed_headers(*, endpoint: WebhookEndpoint, webhook_id: str, body: str, at: dt.datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one `v1,` signature per secret that signs now (two during a
    rotation's overlap), separated by spaces."""
    signatures = [Webhook(secret).sign(webhook_id, at, body) for secret in endpoint_signing_secrets(endpoint, now=at)]
    return {"content-type": "application/json", "webhook-id": webhook_id,
            "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": " ".join(signatures)}


def event_body(event: WebhookEvent) -> str:
    """The JSON body sent (and signed); the message's subject and bodies added for an endpoint that opts in."""
    payload: dict[str, Any] = event.payload
    if event.endpoint.include_body:
        message = (NotificationLog.objects.filter(pk=event.log_id)
                   .values("subject", "body", "html_body").first() or {"subject": "", "body": "", "html_body": ""})
        payload = {**payload, "data": {**payload["data"], **message}}
    return json.dumps(payload, separators=(",", ":"))


def events_claim(*, event_ids: list[int], now: dt.datetime) -> list[WebhookEvent]:
    """Take the due events among `event_ids` for one lease (a log's, NOTIFICATION_LEASE_SECONDS); others skip them."""
    lease = now + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(due_filter(now), pk__in=event_ids).order_by("id").values_list("id", flat=True))
        WebhookEvent.objects.filter(pk__in=ids).update(lease_expires_at=lease, attempts=F("attempts") + 1)
    return list(WebhookEvent.objects.filter(pk__in=ids).select_related("endpoint").order_by("id"))


def events_release(*, events: list[WebhookEvent]) -> None:
    """Give back claimed events this worker will not attempt before its lease runs short: due again at
    once, the attempt not counted, and queued again (or left to the sweep when tasks run in process)."""
    queue_now = task_dispatcher().defers
    ids = [event.pk for event in events]
    WebhookEvent.objects.filter(pk__in=ids, status=EventStatus.PENDING, lease_expires_at=events[0].lease_expires_at
                                ).update(lease_expires_at=None, attempts=F("attempts") - 1,
                                         queued_at=timezone.now() if queue_now else None)
    if queue_now:
        events_enqueue(event_ids=ids)


def events_deliver(*, event_ids: list[int]) -> dict[str, int]:
    """Claim and deliver the due events among `event_ids` (the delivery task's body); counts by outcome.

    An attempt only starts while the lease has NOTIFICATION_LEASE_MARGIN_SECONDS left (more than a
    receiver's timeouts); the rest of the batch is released for another task, so no two workers hold one."""
    outcomes: dict[str, int] = {}
    claimed = events_claim(event_ids=list(event_ids), now=timezone.now())
    margin = dt.timedelta(seconds=settings.NOTIFICATION_LEASE_MARGIN_SECONDS)
    for index, event in enumerate(claimed):
        if timezone.now() + margin > event.lease_expires_at:
            events_release(events=claimed[index:])
            outcomes["released"] = len(claimed) - index
            break
        status = event_deliver(event)
        outcomes[status] = outcomes.get(status, 0) + 1
    return outcomes


def event_deliver(event: WebhookEvent) -> str:
    """One attempt at a claimed event, recorded; returns the event's status after it."""
    endpoint, now = event.endpoint, timezone.now()
    body = event_body(event)
    headers = signed_headers(endpoint=endpoint, webhook_id=event.webhook_id, body=body, at=now)
    status_code, error = None, ""
    started = time.monotonic()
    try:
        destination_url_check(endpoint.url)  # again now (settings change); the addresses when connecting
        with http_client().stream("POST", endpoint.url, content=body.encode(), headers=headers,
                                  timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            status_code = response.status_code
            _drain(response, deadline=started + settings.WEBHOOK_TIMEOUT_SECONDS)
    except UnsafeDestination as err:
        error = f"Not sent: {err}"
    except httpx.HTTPError as err:
        error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    latency = time.monotonic() - started
    succeeded = status_code is not None and 200 <= status_code < 300
    if status_code is not None and not succeeded:
        error = f"Answered HTTP {status_code}."
    metrics.attempt_recorded(endpoint_id=endpoint.pk, succeeded=succeeded, seconds=latency)
    return _record(event, now=now, status_code=status_code, latency_ms=round(latency * 1000), error=error[:500],
                   succeeded=succeeded)


def _drain(response: httpx.Response, *, deadline: float) -> None:
    """Read a short answer's body to its end, so that its connection is kept for the next attempt; a long or
    slow one is left unread (its connection is closed instead). The body itself is not used."""
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > DRAIN_MAX_BYTES or time.monotonic() > deadline:
                return
    except httpx.HTTPError:
        return


def _record(event: WebhookEvent, *, now: dt.datetime, status_code: int | None, latency_ms: int, error: str,
            succeeded: bool) -> str:
    endpoint = event.endpoint
    queue_after: float | None = None
    with transaction.atomic():
        WebhookAttempt.objects.create(event=event, endpoint=endpoint, attempted_at=now, status_code=status_code,
                                      latency_ms=latency_ms, error=error)
        mine = WebhookEvent.objects.filter(pk=event.pk, status=EventStatus.PENDING)
        if succeeded:
            status = EventStatus.DELIVERED
            mine.update(status=status, delivered_at=timezone.now(), lease_expires_at=None, last_error="")
            if endpoint.failing_since is not None:
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
            return status
        delay = retry_delay(event.attempts)
        if delay is None:
            status = EventStatus.FAILED
            mine.update(status=status, lease_expires_at=None,
                        last_error=f"Gave up after {event.attempts} attempts: {error}"[:2000])
            logger.warning("webhook event given up", extra={"event_id": event.pk, "endpoint_id": endpoint.pk,
                                                            "attempts": event.attempts, "error": error})
        else:
            status = EventStatus.PENDING
            queue_now = task_dispatcher().defers and delay <= QUEUE_RETRY_WITHIN_SECONDS
            mine.update(next_attempt_at=now + dt.timedelta(seconds=delay), lease_expires_at=None, last_error=error,
                        queued_at=timezone.now() if queue_now else None)
            queue_after = delay if queue_now else None
            logger.info("webhook retry scheduled", extra={"event_id": event.pk, "endpoint_id": endpoint.pk,
                                                          "attempt": event.attempts, "delay": round(delay, 1),
                                                          "error": error})
        _endpoint_failed(endpoint, now=now)
        if queue_after is not None:
            transaction.on_commit(lambda: events_enqueue(event_ids=[event.pk], countdown=queue_after))
    return status


def _endpoint_failed(endpoint: WebhookEndpoint, *, now: dt.datetime) -> None:
    """Note a failure; an endpoint failing since WEBHOOK_DISABLE_AFTER_HOURS ago with no success is disabled,
    and its owner hears of it through a WARNING line and the webhook_endpoints_disabled_total metric."""
    since = endpoint.failing_since
    if since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        since = endpoint.failing_since = now
    hours = settings.WEBHOOK_DISABLE_AFTER_HOURS
    if now - since < dt.timedelta(hours=hours):
        return
    reason = f"Failing since {since:%Y-%m-%d %H:%M} UTC with no success: disabled after {hours} h."
    if WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).update(enabled=False, disabled_reason=reason,
                                                                           updated_at=now):
        client_endpoints_forget(endpoint.client)
        metrics.endpoint_disabled(endpoint_id=endpoint.pk)
        logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.pk, "client": endpoint.client,
                                                           "url": endpoint.url, "failing_since": since.isoformat()})
