"""Claiming logs for delivery: a worker takes due logs for one lease (others skip them), and gives
back the ones it will not send before the lease runs short."""

import datetime as dt
import logging

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from kit.dispatch import task_dispatcher

from ..models import NotificationLog, NotificationStatus
from .queue import logs_enqueue

logger = logging.getLogger(__name__)


def due_filter(now: dt.datetime) -> Q:
    """Pending logs whose time has come and whose lease, if any, has run out."""
    return (Q(status=NotificationStatus.PENDING)
            & (Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now))
            & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)))


# What delivery reads of a log, and what its `logs_changed` changes carry; in the model's order of fields,
# which `Model.from_db` expects of the claim's RETURNING row.
CLAIM_COLUMNS = tuple(field.attname for field in NotificationLog._meta.concrete_fields if field.attname in {
    "id", "user_id", "type", "recipient", "subject", "body", "html_body", "attempts", "created_at",
    "template_name", "idempotency_key", "batch_id", "client", "trigger_id", "notification_metadata"})
_METADATA = NotificationLog._meta.get_field("notification_metadata")


def logs_claim(*, log_ids: list[int], now: dt.datetime) -> list[NotificationLog]:
    """Take the due logs among `log_ids` for this worker for one lease; others skip them.

    On PostgreSQL one statement (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING),
    elsewhere a short transaction through the ORM. Each claimed log carries its `lease_expires_at`.
    """
    lease = now + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    if not log_ids:
        return []
    if connection.vendor == "postgresql":
        table = NotificationLog._meta.db_table
        columns = ", ".join(CLAIM_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET lease_expires_at = %s, attempts = attempts + 1 WHERE id IN ("
                f"SELECT id FROM {table} WHERE id = ANY(%s) AND status = %s "
                f"AND (scheduled_for IS NULL OR scheduled_for <= %s) "
                f"AND (lease_expires_at IS NULL OR lease_expires_at < %s) "
                f"ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING {columns}",
                [lease, list(log_ids), NotificationStatus.PENDING, now, now])
            rows = cursor.fetchall()
        claimed = [NotificationLog.from_db(connection.alias, CLAIM_COLUMNS, row) for row in sorted(rows)]
        for log in claimed:
            log.lease_expires_at = lease
            # A raw row holds the JSON as text; the ORM would have decoded it.
            log.notification_metadata = _METADATA.from_db_value(log.notification_metadata, None, connection)
        return claimed
    with transaction.atomic():
        claimed = list(NotificationLog.objects.select_for_update(skip_locked=True)
                       .filter(due_filter(now), pk__in=log_ids)
                       .only(*CLAIM_COLUMNS)
                       .order_by("id"))
        ids = [log.pk for log in claimed]
        NotificationLog.objects.filter(pk__in=ids).update(lease_expires_at=lease, attempts=F("attempts") + 1)
    for log in claimed:
        log.attempts += 1
        log.lease_expires_at = lease
    return claimed


def logs_release(*, logs: list[NotificationLog]) -> None:
    """Give back claimed logs this worker will not send before its lease runs too short: they are
    pending again, unleased, with the attempt not counted, and queued again (or left to the sweep)."""
    if not logs:
        return
    queue_now = task_dispatcher().defers
    now = timezone.now()
    ids = [log.pk for log in logs]
    released = NotificationLog.objects.filter(
        pk__in=ids, status=NotificationStatus.PENDING, lease_expires_at=logs[0].lease_expires_at,
    ).update(lease_expires_at=None, attempts=F("attempts") - 1, queued_at=now if queue_now else None,
             updated_at=now)
    logger.warning("lease running short; released the rest of the batch",
                   extra={"count": released, "log_ids": ids[:10]})
    if queue_now:
        logs_enqueue(log_ids=ids)


def lease_margin() -> dt.timedelta:
    """How much of its lease a log must have left for a send to start: a provider's worst case
    (its timeouts) plus the `sent` write's retries, so no send can outlive the lease."""
    return dt.timedelta(seconds=settings.NOTIFICATION_LEASE_MARGIN_SECONDS)
