"""Retention of the outbox: events delivered or given up more than WEBHOOK_RETENTION_DAYS ago are deleted with
their attempts, by `manage.py purge_logs` (handed to it through kit.retention). Pending events are kept
whatever their age: they are still owed to an endpoint (one that is disabled gets them when enabled again)."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import EventStatus, WebhookAttempt, WebhookEndpoint, WebhookEvent

FINISHED = (EventStatus.DELIVERED, EventStatus.FAILED)


def webhooks_purge(*, batch: int = 1000, dry_run: bool = False, now: dt.datetime | None = None) -> tuple[int, int]:
    """Delete (or, with `dry_run`, count) the finished events made before WEBHOOK_RETENTION_DAYS ago (0: keep
    them forever) and their attempts, at most `batch` events per transaction. Returns (events, attempts).

    It walks each endpoint's events by the (endpoint, created_at) index, oldest first, and locks a batch
    before deleting it, so an event replayed meanwhile (pending again) is kept with its attempts."""
    days = settings.WEBHOOK_RETENTION_DAYS
    if days <= 0:
        return 0, 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    old = WebhookEvent.objects.filter(created_at__lt=cutoff, status__in=FINISHED)
    if dry_run:
        return old.count(), WebhookAttempt.objects.filter(event__in=old).count()
    events = attempts = 0
    for endpoint_id in WebhookEndpoint.objects.order_by("id").values_list("id", flat=True):
        mine = old.filter(endpoint_id=endpoint_id)
        while True:
            with transaction.atomic():
                ids = list(mine.select_for_update(skip_locked=True).order_by("created_at")
                           .values_list("id", flat=True)[:batch])
                if not ids:
                    break
                attempts += WebhookAttempt.objects.filter(event_id__in=ids).delete()[0]
                events += WebhookEvent.objects.filter(id__in=ids).delete()[0]
    return events, attempts


def webhooks_purge_line(*, batch: int, dry_run: bool) -> str:
    """webhooks_purge as purge_logs runs it (kit.retention): one line saying what went."""
    if settings.WEBHOOK_RETENTION_DAYS <= 0:
        return "Kept every webhook event (WEBHOOK_RETENTION_DAYS is 0)."
    events, attempts = webhooks_purge(batch=batch, dry_run=dry_run)
    verb = "Would delete" if dry_run else "Deleted"
    return (f"{verb} {events} webhook event{'s' if events != 1 else ''} delivered or given up more than "
            f"{settings.WEBHOOK_RETENTION_DAYS} days ago, with {attempts} attempt{'s' if attempts != 1 else ''}.")
