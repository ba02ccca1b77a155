"""Receipts: a provider's report (delivered, bounced, failed) moves a sent log on, never backwards."""

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from kit import metrics

from ..models import NotificationLog, NotificationStatus
from .claim import CLAIM_COLUMNS
from .events import log_change, logs_changed_send

logger = logging.getLogger(__name__)


RECEIPT_STATUSES = {NotificationStatus.DELIVERED, NotificationStatus.FAILED, NotificationStatus.BOUNCED}


def log_record_receipt(*, provider: str, message_id: str, status: str, error: str = "") -> int:
    """A provider's receipt: move the log it names from `sent` to delivered, failed or bounced.

    Receipts never move a log backwards (a late "delivered" after a bounce changes nothing).
    Returns how many logs changed.
    """
    if status not in RECEIPT_STATUSES:
        raise ValueError(f"not a receipt status: {status}")
    now = timezone.now()
    fields: dict[str, Any] = {"status": status, "updated_at": now}
    if status == NotificationStatus.DELIVERED:
        fields["delivered_at"] = now
    else:
        fields["error_message"] = error or f"Reported {status} by {provider}."
    movable = NotificationLog.objects.filter(provider=provider, provider_message_id=message_id,
                                             status__in=[NotificationStatus.SENT, NotificationStatus.PENDING])
    with transaction.atomic():
        # Locked first, so the changes told to `logs_changed` are exactly the rows this UPDATE moves.
        logs = list(movable.select_for_update().only(*CLAIM_COLUMNS, "status", "provider", "error_message"))
        changed = movable.filter(pk__in=[log.pk for log in logs]).update(**fields)
        changes = []
        for log in logs:
            old_status = log.status
            log.status, log.updated_at = status, now
            log.error_message = fields.get("error_message", log.error_message)
            changes.append(log_change(log, old_status=old_status))
        logs_changed_send(changes=changes)
    metrics.receipt_recorded(provider=provider, status=status, changed=changed)
    logger.info("receipt recorded", extra={"provider": provider, "status": status, "changed": changed})
    return changed
