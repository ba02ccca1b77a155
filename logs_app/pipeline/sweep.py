"""The sweep: queue again every pending log that is due and was not queued recently, so a lost queue
message, a deferred send or a retry whose backoff is over is never forgotten."""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import NotificationLog
from .claim import due_filter
from .lanes import lanes_of_logs
from .queue import logs_enqueue

logger = logging.getLogger(__name__)


def logs_sweep_due(*, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Queue pending logs that are due and not queued recently: scheduled or deferred logs whose
    time has come, retries whose backoff is over, and logs whose queue message or worker was lost.
    Returns how many were queued."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(NotificationLog.objects.select_for_update(skip_locked=True)
                   .filter(due_filter(now) & (Q(queued_at__isnull=True) | Q(queued_at__lt=stale)))
                   .order_by("scheduled_for", "id").values_list("id", flat=True)[:limit])
        NotificationLog.objects.filter(pk__in=ids).update(queued_at=now)
    if ids:
        transaction.on_commit(lambda: _enqueue_by_lane(ids))
        logger.info("sweep queued notifications", extra={"count": len(ids)})
    return len(ids)


def _enqueue_by_lane(log_ids: list[int]) -> None:
    for lane, ids in lanes_of_logs(log_ids).items():
        logs_enqueue(log_ids=ids, lane=lane)
