"""What a log is sent as: the channel message built from its rendered text (with an email's unsubscribe
headers), and a push's device targets; what its error says to a caller who may not read contact details."""

import functools
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from consent_app.tokens import unsubscribe_headers
from notification_channels.base import Channel, Message
from preferences_app.models import Device
from templates_app.models import NotificationType
from templates_app.provided import provided_fill
from templates_app.rendering import RenderedMessage

from ..models import NotificationLog, Trigger


def channel_message(*, channel: str, to: str, rendered: RenderedMessage, platform: str = "", reference: str = "",
                    in_app: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None) -> Message:
    return Message(channel=Channel(channel), to=to, body=rendered.body, subject=rendered.subject,
                   html_body=rendered.html_body or None if channel == NotificationType.EMAIL else None,
                   platform=platform, reference=reference, in_app=in_app or {}, headers=headers or {})


def log_rendered(log: NotificationLog) -> RenderedMessage:
    """The log's text as its user receives it: the service's own variables (an email's `{{ preferences_url }}`),
    kept in the log as markers, filled in for the log's user."""
    return provided_fill(RenderedMessage(log.subject, log.body, log.html_body), user_id=log.user_id)


@functools.lru_cache(maxsize=1024)
def _trigger_category(trigger_id: uuid.UUID) -> tuple[str, bool] | None:
    """(category key, critical) of the kind a trigger was for; None when the kind is gone. A trigger's
    emails go out together, so each is read once per process."""
    found = Trigger.objects.filter(pk=trigger_id, kind__isnull=False).values_list(
        "kind__category__key", "kind__critical").first()
    return tuple(found) if found else None  # type: ignore[return-value]


def unsubscribe_headers_for(log: NotificationLog) -> Mapping[str, str]:
    """List-Unsubscribe and List-Unsubscribe-Post for an email of a kind a user may opt out of (not critical,
    not in NOTIFICATION_UNSUBSCRIBE_EXEMPT_CATEGORIES); none for other logs."""
    if log.type != NotificationType.EMAIL or log.trigger_id is None:
        return {}
    found = _trigger_category(log.trigger_id)
    if found is None or found[1] or found[0] in settings.NOTIFICATION_UNSUBSCRIBE_EXEMPT_CATEGORIES:
        return {}
    return unsubscribe_headers(user_id=log.user_id, category=found[0], channel=NotificationType.EMAIL)


def push_targets(*, user_id: int, recipient: str) -> list[tuple[str, str]]:
    """(platform, token) pairs a push goes to: the named token, or the user's active devices."""
    devices = Device.objects.filter(preference__user_id=user_id, active=True)
    if recipient:
        known = devices.filter(token=recipient).values_list("platform", "token").first()
        return [known] if known else [("", recipient)]
    return list(devices.values_list("platform", "token"))


def address_hidden(text: str | None, address: str) -> str | None:
    """`text` (a log's error or a trigger outcome's reason) without the address it names, for a caller whose
    key lacks the `read` scope: a suppression names the address, which a `send` key must not learn."""
    if not text or not address:
        return text
    return text.replace(address, "the address")
