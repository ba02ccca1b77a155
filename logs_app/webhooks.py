"""Provider receipts: Twilio status callbacks and ESP tracking events (through django-anymail).

Both are authenticated by the provider's signature, not by API key, and both refuse replays:
a signature (Twilio) or event id (ESPs) seen within WEBHOOK_REPLAY_WINDOW_SECONDS, or a signed
timestamp older than WEBHOOK_MAX_AGE_SECONDS (Mailgun signs one), is answered 403 in the API's
`{"detail", "status_code"}` shape and changes nothing, as is a forged request. Receipts also only
move a log forward (see log_record_receipt), so even a replay that got through could not undo one.

They fail closed: an ESP webhook whose callers cannot be authenticated as configured (no
ANYMAIL_WEBHOOK_SECRET for the ESPs that only offer basic auth, no signing key for those that sign)
answers 404 and changes nothing, as Twilio's does with no Twilio account configured.
"""

import contextvars
import functools
import logging
import time
import warnings
from xml.sax.saxutils import escape as xml_escape
from collections.abc import Callable
from typing import Any

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import AnymailTrackingEvent, tracking
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from consent_app.services import suppression_after_send_error
from consent_app.sms import sms_keyword_received
from notification_channels import registry
from notification_channels.sms import TwilioSMSProvider, verify_twilio_signature

from .models import NotificationStatus
from .pipeline.receipts import log_record_receipt

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

REPLAY_CACHE_PREFIX = "webhook-seen:"


class WebhookRefused(Exception):
    """A signed webhook that must not be acted on (replayed or stale); the message says which."""


# Replay memory --------------------------------------------------------------------------------

# The marks a request made, so that a request that fails (and that the provider will send again)
# forgets them: only a webhook that was acted on counts as seen.
_marks: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("webhook_marks", default=None)


def _remember(kind: str, value: str) -> None:
    """Mark a signature or event id as seen; raises WebhookRefused if it already was."""
    key = f"{REPLAY_CACHE_PREFIX}{kind}:{value}"
    if not cache.add(key, 1, settings.WEBHOOK_REPLAY_WINDOW_SECONDS):
        raise WebhookRefused(f"Replayed webhook ({kind} already seen).")
    marks = _marks.get()
    if marks is not None:
        marks.append(key)


def _check_fresh(timestamp: Any) -> None:
    try:
        signed_at = float(timestamp)
    except (TypeError, ValueError):
        raise WebhookRefused("Webhook timestamp is not a number.") from None
    if abs(time.time() - signed_at) > settings.WEBHOOK_MAX_AGE_SECONDS:
        raise WebhookRefused("Stale webhook: its signed timestamp is too old.")


def _guarded(view: Callable[..., HttpResponse], refused: tuple[type[Exception], ...]) -> Callable[..., HttpResponse]:
    """Run a webhook view in one transaction; a forged or replayed request is a 403 that changes nothing."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        marks: list[str] = []
        token = _marks.set(marks)
        try:
            with transaction.atomic():
                return view(request, *args, **kwargs)
        except refused as err:
            cache.delete_many(marks)
            logger.warning("webhook refused", extra={"path": request.path, "reason": str(err)})
            return _refuse(403, str(err) if isinstance(err, WebhookRefused) else "Invalid webhook signature.")
        except BaseException:
            cache.delete_many(marks)  # not acted on: the provider's retry must get through
            raise
        finally:
            _marks.reset(token)

    return guarded


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "status_code": status}, status=status)


# Twilio ---------------------------------------------------------------------------------------


def _twilio_auth_tokens() -> list[str]:
    return [p.options["auth_token"] for p in registry.providers_for("sms") if isinstance(p, TwilioSMSProvider)]


def _twilio_verified(request: HttpRequest, what: str) -> dict[str, str] | HttpResponse:
    """The POST parameters of a request signed by a configured Twilio account, or the refusal to answer."""
    if request.method != "POST":
        refused = _refuse(405, f"Method {request.method} not allowed: Twilio posts its {what}.")
        refused["Allow"] = "POST"
        return refused
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
    # Twilio signs no timestamp or nonce: an identical signature is an identical request.
    _remember("twilio", signature)
    return params


@csrf_exempt
def _twilio_status(request: HttpRequest) -> HttpResponse:
    params = _twilio_verified(request, "status callbacks")
    if isinstance(params, HttpResponse):
        return params
    sid, status = params.get("MessageSid", ""), params.get("MessageStatus", "")
    if sid and status in TWILIO_FINAL_STATUSES:
        error = f"Twilio error {params['ErrorCode']}" if params.get("ErrorCode") else ""
        log_record_receipt(provider="twilio", message_id=sid, status=TWILIO_FINAL_STATUSES[status], error=error)
        suppression_after_send_error(channel="sms", address=params.get("To", ""), code=params.get("ErrorCode"),
                                     detail=error, provider="twilio")
    return HttpResponse(status=204)


twilio_status = _guarded(_twilio_status, (WebhookRefused,))
twilio_status.__doc__ = "Twilio's StatusCallback: verified with X-Twilio-Signature against each configured account."


@csrf_exempt
def _twilio_inbound(request: HttpRequest) -> HttpResponse:
    params = _twilio_verified(request, "incoming messages")
    if isinstance(params, HttpResponse):
        return params
    reply = sms_keyword_received(number=params.get("From", ""), body=params.get("Body", ""))
    twiml = f"<Message>{xml_escape(reply)}</Message>" if reply else ""
    return HttpResponse(f'<?xml version="1.0" encoding="UTF-8"?><Response>{twiml}</Response>',
                        content_type="text/xml; charset=utf-8")


twilio_inbound = _guarded(_twilio_inbound, (WebhookRefused,))
twilio_inbound.__doc__ = ("Twilio's incoming-message webhook: STOP, START and HELP (consent_app.sms), verified as "
                          "the status callback is; answered with TwiML.")


# ESPs through anymail -------------------------------------------------------------------------


def _mailgun_signed_nonce(esp_event: Any) -> tuple[Any, Any] | None:
    """Mailgun's signed (timestamp, token): in the JSON's signature block, or legacy form fields."""
    if isinstance(esp_event, dict) and isinstance(esp_event.get("signature"), dict):
        return esp_event["signature"].get("timestamp"), esp_event["signature"].get("token")
    if hasattr(esp_event, "get") and esp_event.get("token"):
        return esp_event.get("timestamp"), esp_event.get("token")
    return None


@receiver(tracking)
def anymail_tracking(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """An ESP's delivery or bounce event, already verified by anymail's webhook view (wrapped by _guarded)."""
    if esp_name == "Mailgun":
        nonce = _mailgun_signed_nonce(event.esp_event)
        if nonce is not None:
            _check_fresh(nonce[0])
            _remember("mailgun-token", str(nonce[1]))
    if event.event_id:
        _remember(f"{esp_name.lower()}-event", str(event.event_id))
    status = ANYMAIL_EVENT_STATUSES.get(event.event_type)
    if status and event.message_id:
        error = " ".join(filter(None, [event.reject_reason, event.description, event.mta_response]))[:1000]
        log_record_receipt(provider=esp_name.lower(), message_id=str(event.message_id), status=status,
                           error=f"{esp_name}: {error}" if error else "")


def anymail_webhook_problem(view: Callable[..., HttpResponse]) -> str | None:
    """Why an anymail webhook view cannot authenticate its callers as configured (None if it can).

    Anymail itself accepts anyone when neither a basic-auth secret nor a signing key is set (with a
    warning), and raises its configuration error only once a request arrives.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the "insecure webhook" warning: we refuse instead
            instance = view.view_class(**view.view_initkwargs)
    except AnymailConfigurationError as err:
        return str(err).splitlines()[0]
    if getattr(instance, "webhook_key", "") is None:  # Mandrill's signing key, checked only per request
        return f"ANYMAIL_{instance.esp_name.upper()}_WEBHOOK_KEY is not set"
    if instance.warn_if_no_basic_auth and not instance.basic_auth:
        return "ANYMAIL_WEBHOOK_SECRET is not set"
    return None


def anymail_tracking_view(esp: str) -> Callable[..., HttpResponse] | None:
    """Anymail's tracking webhook view for an ESP (as named in its backend's module), if it has one."""
    from anymail import urls as anymail_urls  # anymail's views import boto3: see logs_app/anymail_urls.py

    names = {f"{esp}_tracking_webhook", f"{esp}_webhook"}
    return next((pattern.callback for pattern in anymail_urls.urlpatterns if pattern.name in names), None)


def _fail_closed(view: Callable[..., HttpResponse], guarded: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(guarded)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        problem = anymail_webhook_problem(view)
        if problem is None:
            try:
                return guarded(request, *args, **kwargs)
            except AnymailConfigurationError as err:  # a setting anymail only reads per request
                problem = str(err).splitlines()[0]
        logger.warning("webhook refused: not configured", extra={"path": request.path, "reason": problem})
        return _refuse(404, f"This {view.view_class.esp_name} webhook is not configured.")

    return checked


def anymail_webhook_guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An anymail webhook view, wrapped: one that cannot authenticate its callers is a 404; anymail answers a
    bad signature with a bare 400 (SuspiciousOperation), ours is a 403 in the API's error shape, and replays are
    refused too."""
    return _fail_closed(view, _guarded(view, (AnymailWebhookValidationFailure, WebhookRefused)))
