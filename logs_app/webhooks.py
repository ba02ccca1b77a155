"""Provider receipts: Twilio status callbacks and ESP tracking events (through django-anymail).

Both are authenticated by the provider's signature, not by API key. Receipts only move a log
forward (see log_record_receipt), so a replayed callback changes nothing.
"""

import logging

from anymail.signals import AnymailTrackingEvent, tracking
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from notification_channels import registry
from notification_channels.sms import TwilioSMSProvider, verify_twilio_signature

from .models import NotificationStatus
from .services import log_record_receipt

logger = logging.getLogger(__name__)

# Twilio's MessageStatus values that end a message's journey, and what they mean for the log.
TWILIO_FINAL_STATUSES = {
    "delivered": NotificationStatus.DELIVERED,
    "undelivered": NotificationStatus.FAILED,
    "failed": NotificationStatus.FAILED,
}

# Anymail's normalised event types that move a log.
ANYMAIL_EVENT_STATUSES = {
    "delivered": NotificationStatus.DELIVERED,
    "bounced": NotificationStatus.BOUNCED,
    "rejected": NotificationStatus.BOUNCED,
}


def _twilio_auth_tokens() -> list[str]:
    return [p.options["auth_token"] for p in registry.providers_for("sms") if isinstance(p, TwilioSMSProvider)]


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "status_code": status}, status=status)


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's StatusCallback: verified with X-Twilio-Signature against each configured account."""
    tokens = _twilio_auth_tokens()
    if not tokens:
        return _refuse(404, "No Twilio provider is configured.")
    signature = request.headers.get("X-Twilio-Signature", "")
    params = {key: request.POST.get(key, "") for key in request.POST}
    url = request.build_absolute_uri()
    if not signature or not any(verify_twilio_signature(url=url, params=params, signature=signature, auth_token=t)
                                for t in tokens):
        logger.warning("twilio webhook refused: bad signature")
        return _refuse(403, "Invalid Twilio signature.")
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status in TWILIO_FINAL_STATUSES:
        error = f"Twilio error {params['ErrorCode']}" if params.get("ErrorCode") else ""
        log_record_receipt(provider="twilio", message_id=sid, status=TWILIO_FINAL_STATUSES[status], error=error)
    return HttpResponse(status=204)


@receiver(tracking)
def anymail_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """An ESP's delivery or bounce event, already verified by anymail's webhook view."""
    status = ANYMAIL_EVENT_STATUSES.get(event.event_type)
    if status and event.message_id:
        error = " ".join(filter(None, [event.reject_reason, event.description, event.mta_response]))[:1000]
        log_record_receipt(provider=esp_name.lower(), message_id=str(event.message_id), status=status,
                           error=f"{esp_name}: {error}" if error else "")
