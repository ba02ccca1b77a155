"""What a log is sent as: the channel message built from its rendered text, and a push's device targets; what
its error says to a caller who may not read contact details."""

from collections.abc import Mapping
from typing import Any

from notification_channels.base import Channel, Message
from preferences_app.models import Device
from templates_app.models import NotificationType
from templates_app.rendering import RenderedMessage


def channel_message(*, channel: str, to: str, rendered: RenderedMessage, platform: str = "", reference: str = "",
                    in_app: Mapping[str, Any] | None = None) -> Message:
    return Message(channel=Channel(channel), to=to, body=rendered.body, subject=rendered.subject,
                   html_body=rendered.html_body or None if channel == NotificationType.EMAIL else None,
                   platform=platform, reference=reference, in_app=in_app or {})


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
