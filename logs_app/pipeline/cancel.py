"""Cancelling triggers by their cancellation key: their logs still pending (scheduled, deferred by quiet
hours, queued) end `suppressed` with the cancellation as the reason; logs already sent are untouched."""

import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ..models import NotificationLog, NotificationStatus, Trigger
from .events import LogChange, logs_changed_send
from .request import idempotency_key_problem

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancelResult:
    cancellation_key: str
    triggers: int
    cancelled: int


def trigger_cancel(*, client: str, cancellation_key: str) -> CancelResult:
    """Cancel this client's triggers made with `cancellation_key`. Raises Trigger.DoesNotExist when there is
    none, ValidationError for a malformed key. Cancelling again finds nothing left pending (cancelled 0)."""
    problem = idempotency_key_problem(cancellation_key)
    if problem:
        raise ValidationError({"cancellation_key": problem})
    reason = f"Cancelled: the trigger was cancelled (cancellation key {cancellation_key!r})."
    with transaction.atomic():
        trigger_ids = list(Trigger.objects.select_for_update()
                           .filter(client=client, cancellation_key=cancellation_key).values_list("id", flat=True))
        if not trigger_ids:
            raise Trigger.DoesNotExist(f"No trigger with the cancellation key {cancellation_key!r}.")
        now = timezone.now()
        # Locked, so that the changes told to `logs_changed` are exactly the rows cancelled below. A worker that
        # claimed one of them finds it no longer pending and records nothing.
        pending = list(NotificationLog.objects.select_for_update()
                       .filter(trigger_id__in=trigger_ids, status=NotificationStatus.PENDING)
                       .values_list("id", "user_id", "type", "template_name", "provider", "idempotency_key",
                                    "trigger_id", "created_at"))
        cancelled = NotificationLog.objects.filter(pk__in=[row[0] for row in pending]).update(
            status=NotificationStatus.SUPPRESSED, error_message=reason, lease_expires_at=None, updated_at=now)
        Trigger.objects.filter(pk__in=trigger_ids, cancelled_at__isnull=True).update(cancelled_at=now)
        logs_changed_send(changes=[
            LogChange(log_id=log_id, user_id=user_id, channel=channel, template_name=template_name,
                      old_status=NotificationStatus.PENDING, new_status=NotificationStatus.SUPPRESSED,
                      provider=provider, error_message=reason, at=now, idempotency_key=key, batch_id=None,
                      created_at=created_at, client=client, trigger_id=trigger_id)
            for log_id, user_id, channel, template_name, provider, key, trigger_id, created_at in pending])
    logger.info("trigger cancelled", extra={"cancellation_key": cancellation_key, "triggers": len(trigger_ids),
                                            "logs_cancelled": cancelled})
    return CancelResult(cancellation_key=cancellation_key, triggers=len(trigger_ids), cancelled=cancelled)
