"""The in-app channel: a message for the user's own feed in the product's web app.

The feed itself belongs to an app (inbox_app ships its provider, named in NOTIFICATION_PROVIDERS); this
module holds what the channel checks of a message and a provider that keeps messages in memory, for
code that has no feed to write to. A message's `to` is the user id, `subject` the title, `body` the text
(Markdown), and `in_app` holds `action_url`, `data` (a JSON object), `kind` and `category`, any of which
may be absent.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, ClassVar

from .base import Channel, ChannelAdapter, DeliveryResult, InvalidRecipient, Message, PermanentError, Provider

ACTION_URL_MAX = 2048


def action_url_problem(url: Any) -> str | None:
    """Why an action URL is refused (None when it is fine): an absolute http(s) URL or a path from the root."""
    if not isinstance(url, str):
        return "Must be a string."
    if len(url) > ACTION_URL_MAX:
        return f"Must be at most {ACTION_URL_MAX} characters."
    if any(ord(char) < 32 or char.isspace() for char in url):
        return "Must not hold spaces or control characters."
    if not (url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//"))):
        return "Must be an http(s) URL or a path starting with a single '/'."
    return None


class InAppAdapter(ChannelAdapter):
    channel = Channel.IN_APP

    @classmethod
    def validate(cls, message: Message) -> None:
        super().validate(message)
        if not message.to.isdigit() or int(message.to) < 1:
            raise InvalidRecipient(f"An in-app message goes to a user id, not {message.to!r}.")
        if not message.body.strip() and not message.subject.strip():
            raise PermanentError("An in-app message needs a title or a body.")
        url = message.in_app.get("action_url")
        if url is not None and (problem := action_url_problem(url)):
            raise PermanentError(f"action_url: {problem}")
        data = message.in_app.get("data")
        if data is not None and not isinstance(data, dict):
            raise PermanentError("data: Must be a JSON object.")


class MemoryFeedProvider(Provider):
    """Keeps in-app messages in a list in memory (`messages`): the channel's provider when no app ships one."""

    name = "memory"
    channel = Channel.IN_APP
    _ids: ClassVar[itertools.count] = itertools.count(1)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    def send(self, message: Message) -> DeliveryResult:
        with self._lock:
            self.messages.append(message)
        return DeliveryResult(provider=self.name, message_id=f"memory-{next(self._ids)}")
