"""Changing the suppression list: what bounces, complaints and refused numbers add, and what operators remove."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from .models import SoftBounceStreak, Suppression, SuppressionChannel, SuppressionReason
from .records import consent_record_suppression
from .selectors import normalize_address

logger = logging.getLogger(__name__)

# Twilio's error codes (on send, or in a status callback) that mean no message will ever reach the number.
TWILIO_SUPPRESSING_CODES = {
    21610: SuppressionReason.SMS_OPT_OUT,  # the recipient replied STOP to this sender
    21211: SuppressionReason.UNDELIVERABLE,  # not a valid phone number
    21614: SuppressionReason.UNDELIVERABLE,  # not a mobile number
    30005: SuppressionReason.UNDELIVERABLE,  # unknown destination handset
    30006: SuppressionReason.UNDELIVERABLE,  # landline or unreachable carrier
}


def suppression_add(*, channel: str, address: str, reason: str, detail: str = "", source: str = "") -> Suppression:
    """Put an address on the list; one already there keeps its first reason. Returns its entry."""
    address = normalize_address(channel, address)
    existing = Suppression.objects.filter(channel=channel, address=address).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(channel=channel, address=address, reason=reason,
                                                     detail=detail[:1000], source=source)
            consent_record_suppression(channel=channel, address=address, old=None, new=reason,
                                       detail=f"{address} ({source or 'unknown source'})")
    except IntegrityError:  # the same bounce reported twice at once
        return Suppression.objects.get(channel=channel, address=address)
    SoftBounceStreak.objects.filter(address=address).delete()
    logger.info("address suppressed", extra={"channel": channel, "reason": reason, "source": source})
    return suppression


def suppression_remove(*, suppression_id: int, source: str = "admin") -> None:
    """Take an entry off the list, so sends reach the address again; `source` says who (admin, api).
    Raises Suppression.DoesNotExist."""
    with transaction.atomic():
        suppression = Suppression.objects.select_for_update().get(pk=suppression_id)
        suppression.delete()
        SoftBounceStreak.objects.filter(address=suppression.address).delete()
        consent_record_suppression(channel=suppression.channel, address=suppression.address,
                                   old=suppression.reason, new=None, detail=f"{suppression.address} (removed: {source})")
    logger.info("suppression removed", extra={"channel": suppression.channel, "reason": suppression.reason,
                                              "source": source})


def soft_bounce_record(*, address: str, detail: str = "", source: str = "") -> Suppression | None:
    """Count a soft bounce of an email address; the NOTIFICATION_SOFT_BOUNCE_LIMIT-th in a row suppresses it
    (returned then)."""
    address = normalize_address(SuppressionChannel.EMAIL, address)
    if not address:
        return None
    streak, created = SoftBounceStreak.objects.get_or_create(address=address, defaults={"count": 1})
    if not created:
        SoftBounceStreak.objects.filter(pk=streak.pk).update(count=F("count") + 1)
        streak.refresh_from_db(fields=["count"])
    if streak.count < settings.NOTIFICATION_SOFT_BOUNCE_LIMIT:
        return None
    return suppression_add(channel=SuppressionChannel.EMAIL, address=address, reason=SuppressionReason.SOFT_BOUNCES,
                           detail=f"{streak.count} soft bounces in a row; the last: {detail}", source=source)


def soft_bounce_clear(*, address: str) -> None:
    """A delivery to the address ends its streak of soft bounces."""
    SoftBounceStreak.objects.filter(address=normalize_address(SuppressionChannel.EMAIL, address)).delete()


def suppression_after_send_error(*, channel: str, address: str, code: object, detail: str,
                                 provider: str) -> Suppression | None:
    """What a provider's refusal of a send says about the address: Twilio's opt-out and undeliverable-number
    codes put the number on the list (returned); other errors change nothing."""
    if channel != SuppressionChannel.SMS or not address:
        return None
    try:
        reason = TWILIO_SUPPRESSING_CODES.get(int(code))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    if reason is None:
        return None
    return suppression_add(channel=channel, address=address, reason=reason, detail=detail, source=provider)
