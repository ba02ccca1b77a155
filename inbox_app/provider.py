"""The in-app channel's provider: delivering an in-app log writes its message to the user's feed."""

from typing import Any

from django.db import DatabaseError

from notification_channels.base import Channel, DeliveryResult, Message, Provider, TransientError

from .services import feed_message_create


class FeedProvider(Provider):
    """Writes the message to the feed (once per log) and counts it, in one transaction; a database that
    cannot be reached is a transient failure, retried like any provider's."""

    name = "feed"
    channel = Channel.IN_APP

    def send(self, message: Message) -> DeliveryResult:
        extra: dict[str, Any] = dict(message.in_app)
        try:
            feed_message, _ = feed_message_create(
                user_id=int(message.to), log_id=int(message.reference) if message.reference.isdigit() else None,
                title=message.subject, body=message.body, action_url=extra.get("action_url") or "",
                data=extra.get("data") or {}, kind=extra.get("kind") or "", category=extra.get("category") or "")
        except DatabaseError as err:
            raise TransientError(f"could not write the feed: {type(err).__name__}", provider=self.name) from err
        return DeliveryResult(provider=self.name, message_id=str(feed_message.pk),
                              detail={"feed_message_id": feed_message.pk})
