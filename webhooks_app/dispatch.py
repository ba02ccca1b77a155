"""Handing webhook events to the delivery task (published by name, like the pipeline's tasks), and the
sweep that queues again what is due: a retry whose backoff is over, or an event whose message was lost."""

import datetime as dt
import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from logs_app.pipeline.queue import chunks, task_publish

from .models import EventStatus, WebhookEvent

logger = logging.getLogger(__name__)

DELIVER_TASK = "webhooks_app.tasks.deliver_webhook_events"
SWEEP_TASK = "webhooks_app.tasks.sweep_webhook_events"
# Events per task message: each is an HTTP request of up to WEBHOOK_TIMEOUT_SECONDS.
TASK_BATCH_SIZE = 20


def events_enqueue(*, event_ids: Iterable[int], countdown: float | None = None) -> None:
    """Queue committed events for delivery in batches (or deliver them here, when tasks run in process).
    Trouble is logged, not raised: the events are committed, and the sweep queues them again."""
    for batch in chunks(event_ids, TASK_BATCH_SIZE):
        try:
            task_publish(name=DELIVER_TASK, args=[batch], countdown=countdown)
        except Exception as err:  # kombu raises several types; in process, a database error of the delivery
            logger.warning("webhook events not handed on now; the sweep will retry",
                           extra={"event_ids": batch[:10], "count": len(batch), "error": type(err).__name__})


def due_filter(now: dt.datetime) -> Q:
    """Pending events whose time has come, of an enabled endpoint, and not leased to a worker."""
    return (Q(status=EventStatus.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
            & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)))


def events_sweep_due(*, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Queue due events not queued recently (NOTIFICATION_REQUEUE_AFTER_SECONDS): retries whose backoff
    is over, and events whose queue message or worker was lost. Returns how many were queued."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(due_filter(now) & (Q(queued_at__isnull=True) | Q(queued_at__lt=stale)))
                   .order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
        WebhookEvent.objects.filter(pk__in=ids).update(queued_at=now)
        if ids:
            transaction.on_commit(lambda: events_enqueue(event_ids=ids))
    if ids:
        logger.info("sweep queued webhook events", extra={"count": len(ids)})
    return len(ids)


def events_replay(*, event_ids: Iterable[int]) -> int:
    """Deliver events again from scratch (a fresh run of retries), each with its own webhook-id as before,
    whatever became of them; an event of a disabled endpoint waits until it is enabled. Returns how many."""
    now, count = timezone.now(), 0
    for batch in chunks(event_ids, 1000):
        with transaction.atomic():
            changed = WebhookEvent.objects.filter(pk__in=batch).update(
                status=EventStatus.PENDING, attempts=0, next_attempt_at=now, lease_expires_at=None, queued_at=now,
                delivered_at=None, last_error="")
            transaction.on_commit(lambda batch=batch: events_enqueue(event_ids=batch))
        count += changed
    logger.info("webhook events replayed", extra={"count": count})
    return count
