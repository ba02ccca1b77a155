"""What ESP tracking events (through django-anymail) tell the suppression list.

Hard bounces and spam complaints suppress the address; soft bounces (anymail's `deferred`) count
towards NOTIFICATION_SOFT_BOUNCE_LIMIT, and a delivery ends the streak. Anymail has checked the
event's signature; logs_app's receiver, in the same transaction, refuses replays and moves the log.
"""

from anymail.signals import AnymailTrackingEvent, tracking
from django.dispatch import receiver

from .models import SuppressionChannel, SuppressionReason
from .services import soft_bounce_clear, soft_bounce_record, suppression_add

# Anymail's normalised event types that put the address on the list at once.
SUPPRESSING_EVENTS = {"bounced": SuppressionReason.HARD_BOUNCE, "complained": SuppressionReason.COMPLAINT}


@receiver(tracking, dispatch_uid="consent_app.suppress_from_tracking")
def suppress_from_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    address = event.recipient or ""
    if not address:
        return
    detail = " ".join(filter(None, [event.reject_reason, event.description, event.mta_response]))[:1000]
    source = esp_name.lower()
    if event.event_type in SUPPRESSING_EVENTS:
        suppression_add(channel=SuppressionChannel.EMAIL, address=address, reason=SUPPRESSING_EVENTS[event.event_type],
                        detail=detail, source=source)
    elif event.event_type == "deferred":
        soft_bounce_record(address=address, detail=detail, source=source)
    elif event.event_type == "delivered":
        soft_bounce_clear(address=address)
