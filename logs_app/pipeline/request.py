"""Checking a send request before anything is written: fields, template, rendering, channel checks,
schedule and idempotency key; shared by single and bulk sends."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from notification_channels import registry
from notification_channels.base import InvalidRecipient, PermanentError
from notification_channels.in_app import action_url_problem
from preferences_app.models import UserPreference, is_user_id
from preferences_app.selectors import preference_cache_key
from preferences_app.services import quiet_hours_end_for
from templates_app.models import NotificationTemplate, NotificationType
from templates_app.rendering import RenderedMessage, context_too_deep
from templates_app.selectors import template_cache_key, template_get_by_name
from templates_app.services import template_render

from ..models import BulkSend, IdempotencyKey, NotificationLog, Priority, Trigger
from .messages import channel_message

PAST_SEND_AT_GRACE = dt.timedelta(minutes=5)
MAX_SEND_AT_AHEAD = dt.timedelta(days=366)


@dataclass(frozen=True)
class SendRequest:
    """A send request whose fields have been checked, shared by single and bulk sends."""

    template: NotificationTemplate
    channel: str
    rendered: RenderedMessage
    priority: str
    send_at: dt.datetime | None
    client: str
    in_app: dict[str, Any] | None = None  # in-app only: the action URL and data payload, from the context


# Django builds a choices enum's `values` anew, labels and all, on every read.
_PRIORITIES, _CHANNELS = frozenset(Priority.values), frozenset(NotificationType.values)


def send_request_check(*, template_name: Any, context: Any, channel: str | None, send_at: dt.datetime | None,
                       priority: str, client: str) -> SendRequest:
    """The request with its template found and rendered. Raises ValidationError keyed by field."""
    errors: dict[str, str] = {}
    if priority not in _PRIORITIES:
        errors["priority"] = f"Must be one of: {', '.join(Priority.values)}."
    if channel is not None and channel not in _CHANNELS:
        errors["channel"] = f"Must be one of: {', '.join(NotificationType.values)}."
    if context is not None and not isinstance(context, dict):
        errors["context"] = "Must be a JSON object."
    elif context is not None and (too_deep := context_too_deep(context)):
        errors["context"] = too_deep
    elif context is not None:
        size = len(json.dumps(context, default=str).encode())
        if size > settings.NOTIFICATION_MAX_CONTEXT_BYTES:
            errors["context"] = f"Is {size} bytes; the limit is {settings.NOTIFICATION_MAX_CONTEXT_BYTES}."
    if send_at is not None:
        if timezone.is_naive(send_at):
            send_at = timezone.make_aware(send_at, dt.timezone.utc)
        now = timezone.now()
        if send_at < now - PAST_SEND_AT_GRACE:
            errors["send_at"] = "Is in the past."
        elif send_at > now + MAX_SEND_AT_AHEAD:
            errors["send_at"] = "Is more than a year ahead."
    template = None
    if not isinstance(template_name, str) or not template_name:
        errors["template_name"] = "A template name is required."
    else:
        template = template_get_by_name(name=template_name)
        if template is None:
            errors["template_name"] = f"No template named {template_name!r}."
    if errors:
        raise ValidationError(errors)
    channel = channel or template.type
    if channel == NotificationType.EMAIL and not template.subject:
        raise ValidationError({"channel": f"Template {template.name!r} has no subject, so it cannot go by email."})
    rendered = template_render(template=template, context=context or {})
    in_app = in_app_fields(context or {}) if channel == NotificationType.IN_APP else None
    return SendRequest(template=template, channel=channel, rendered=rendered, priority=priority,
                       send_at=send_at, client=client, in_app=in_app)


# The context keys an in-app message takes its action URL and data payload from (as a send finds an address
# missing from the preferences in the context's `email`, `phone` or `device_token`).
IN_APP_CONTEXT_KEYS = ("action_url", "data")


def in_app_fields(context: dict[str, Any]) -> dict[str, Any]:
    """An in-app message's action URL and data payload, from the context. Raises ValidationError naming
    `context.action_url` or `context.data`."""
    fields = {key: context[key] for key in IN_APP_CONTEXT_KEYS if context.get(key) is not None}
    if "action_url" in fields and (problem := action_url_problem(fields["action_url"])):
        raise ValidationError({"context.action_url": problem})
    if "data" in fields and not isinstance(fields["data"], dict):
        raise ValidationError({"context.data": "Must be a JSON object."})
    return fields


def delivery_validate(*, channel: str, recipient: str, targets: list[tuple[str, str]],
                      rendered: RenderedMessage, in_app: dict[str, Any] | None = None) -> None:
    """Channel checks at accept time (address syntax, SMS length, push token and size), as a 400."""
    messages = ([channel_message(channel=channel, to=token, rendered=rendered, platform=platform)
                 for platform, token in targets] if channel == NotificationType.PUSH
                else [channel_message(channel=channel, to=recipient, rendered=rendered, in_app=in_app)])
    for message in messages:
        try:
            registry.validate(message)
        except InvalidRecipient as err:
            raise ValidationError({"recipient": err.message}) from err
        except PermanentError as err:
            raise ValidationError({"message": err.message}) from err


PROBES = {NotificationType.EMAIL: "probe@example.com", NotificationType.SMS: "+14155550100",
          NotificationType.IN_APP: "1"}


def text_validate_once(request: SendRequest) -> None:
    """Channel checks of a text that is the same for every recipient (SMS length, push size), made once
    against a valid address, as a 400."""
    if request.channel == NotificationType.PUSH:
        delivery_validate(channel="push", recipient="", targets=[], rendered=request.rendered)
    else:
        probe = PROBES[request.channel]
        delivery_validate(channel=request.channel, recipient=probe, targets=[], rendered=request.rendered,
                          in_app=request.in_app)


def send_schedule(*, preference: UserPreference, request: SendRequest, now: dt.datetime) -> dt.datetime | None:
    """When delivery may start: send_at, pushed to the end of quiet hours unless urgent."""
    due = request.send_at if request.send_at and request.send_at > now else None
    if request.priority != Priority.URGENT:
        quiet_end = quiet_hours_end_for(preference, due or now)
        if quiet_end:
            return quiet_end
    return due


SUPPRESSED = "Suppressed: the user turned off {channel} notifications."


def send_cache_keys(*, template_name: Any, user_id: Any) -> list[str]:
    """The shared-cache entries a send reads: its template's and its user's preferences'."""
    keys = [template_cache_key(template_name)] if isinstance(template_name, str) and template_name else []
    return keys + [preference_cache_key(user_id)] if is_user_id(user_id) else keys


class RepeatWithOtherRequest(ValidationError):
    """An idempotency key used again, within its window, with a different request: refused with 422."""

    http_status = 422


# How long an idempotency key answers for what it made; past it, the key may be used for a new request.
IDEMPOTENCY_WINDOW = dt.timedelta(hours=24)


def idempotency_key_problem(key: Any) -> str | None:
    """Why an idempotency key is refused (None when it is fine): the REST header and the services' argument."""
    if not isinstance(key, str) or not 1 <= len(key) <= 255 or "\x00" in key:
        return "Must be 1 to 255 characters, none of them NUL."
    return None


def _as_text(value: Any) -> str:
    """A datetime as the same text whatever offset it came in (naive ones are UTC, as `send_request_check`
    takes them), so one moment written two ways is one request."""
    if isinstance(value, dt.datetime):
        value = (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
    return str(value)


def request_digest(**request: Any) -> str:
    """A fingerprint of a request's arguments: what a repeated idempotency key must come with to be answered
    with what it made, rather than refused. Single, bulk and trigger sends keep it beside their key."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=_as_text).encode()).hexdigest()


IdempotentRecord = NotificationLog | BulkSend | Trigger


def idempotency_earlier(model: type[IdempotentRecord], *, client: str, idempotency_key: str | None,
                        digest: str, now: dt.datetime) -> IdempotentRecord | None:
    """What this client's idempotency key made within IDEMPOTENCY_WINDOW, for a repeat to answer with (None
    without a key, or when it made nothing yet). A record past the window gives its key up for a new request.
    A single send's key is found in its own table (IdempotencyKey), which names the log.

    Raises ValidationError for a bad key, and RepeatWithOtherRequest (422) when the key came with another
    request: `digest` differs from the record's (a record kept from before digests were stored has none, and
    answers any repeat)."""
    if idempotency_key is None:
        return None
    problem = idempotency_key_problem(idempotency_key)
    if problem:
        raise ValidationError({"idempotency_key": problem})
    if model is NotificationLog:
        earlier = _log_of_key(client=client, key=idempotency_key)
    else:
        earlier = model.objects.filter(client=client, idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    if earlier.created_at < now - IDEMPOTENCY_WINDOW:
        stale = model.objects.filter(pk=earlier.pk)
        if model is BulkSend:  # the row exists only to answer its key
            stale.delete()
        elif model is NotificationLog:  # the log stays, without its key
            IdempotencyKey.objects.filter(client=client, key=idempotency_key, log_id=earlier.pk).delete()
            stale.update(idempotency_key=None)
        else:  # a trigger stays, without its key
            stale.update(idempotency_key=None)
        return None
    if earlier.request_hash and earlier.request_hash != digest:
        raise RepeatWithOtherRequest({"idempotency_key": (
            f"Was used at {earlier.created_at.isoformat()} for another request; use a new key for this one.")})
    return earlier


def _log_of_key(*, client: str, key: str) -> NotificationLog | None:
    """The log a single send's key made (by its id: one probe of each partition's primary key on PostgreSQL);
    a key whose log is gone (purged) is given up."""
    log_id = IdempotencyKey.objects.filter(client=client, key=key).values_list("log_id", flat=True).first()
    if log_id is None:
        return None
    log = NotificationLog.objects.filter(pk=log_id).first()
    if log is None:
        IdempotencyKey.objects.filter(client=client, key=key, log_id=log_id).delete()
    return log


def idempotency_key_add(log: NotificationLog) -> None:
    """Hold a single send's key for its log, in the transaction of the log's INSERT: a second request with the
    same key that got this far meets the unique rule (IntegrityError) and answers the first one's log. The key's `created_at` is the log's: the purge's clock."""
    IdempotencyKey.objects.create(client=log.client, key=log.idempotency_key, log_id=log.pk,
                                  created_at=log.created_at)


def idempotency_keys_purge(*, now: dt.datetime, batch: int = 1000) -> int:
    """Delete single sends' keys and bulk sends' rows past IDEMPOTENCY_WINDOW, `batch` per statement (the
    purges run it): a repeat of such a key would give it up anyway, and so each table keeps about a window of
    keys (a trigger stays: it is the record of its fan-out). Returns how many were deleted."""
    cutoff = now - IDEMPOTENCY_WINDOW
    deleted = 0
    for old in (IdempotencyKey.objects.filter(created_at__lt=cutoff), BulkSend.objects.filter(created_at__lt=cutoff)):
        while ids := list(old.values_list("pk", flat=True)[:batch]):
            deleted += old.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
