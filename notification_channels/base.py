"""The channel vocabulary: messages, results, the error tree, and the provider and adapter bases."""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, TextIO

from django.core.exceptions import ImproperlyConfigured
from django.dispatch import Signal

from notification_channels.console import content_shown, withheld

logger = logging.getLogger(__name__)

# Sent (channel=, provider=) when a provider fails transiently and the next one gets the message;
# the metrics listen to it, so this package needs to know nothing of them.
provider_failed_over = Signal()


# Every character str.splitlines() ends a line at (\n \r \v \f \x1c-\x1e \x85 U+2028 U+2029), and the other C0
# and C1 controls and DEL: a subject is an email header or a push title, one line of text.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line_problem(text: str | None) -> str | None:
    """Why `text` cannot be a subject ("contains U+000B, ..."), naming its first line break or control character;
    None if it can."""
    found = _NOT_ONE_LINE.search(text or "")
    if found is None:
        return None
    return f"contains U+{ord(found.group()):04X}, a line break or control character"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"
    IN_APP = "in_app"


@dataclass(frozen=True)
class Message:
    """A rendered, channel-neutral notification ready for a provider."""

    channel: Channel
    to: str  # email address | E.164 phone | device token
    body: str  # plain text (sms/push body, email text part)
    subject: str = ""  # email subject / push title
    html_body: str | None = None  # email HTML alternative
    data: Mapping[str, str] = field(default_factory=dict)  # push custom data
    platform: str = ""  # push: "ios" | "android"; "" otherwise
    reference: str = ""  # our log id, passed to the provider where it allows
    # in-app: the action URL, the data payload, the kind and its category (see notification_channels.in_app)
    in_app: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)  # email: extra headers (List-Unsubscribe)


@dataclass(frozen=True)
class DeliveryResult:
    """What a provider told us when it accepted a message."""

    provider: str
    message_id: str
    detail: Mapping[str, Any] = field(default_factory=dict)


class ChannelError(Exception):
    """A provider refused or failed a message.

    ``status`` is the HTTP (or SMTP) status when there was one, ``code`` the
    provider's own error code (Twilio 21211, APNs "BadDeviceToken", ...).
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | int | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        return f"{prefix}{self.message}"


class TransientError(ChannelError):
    """Worth retrying later or on another provider.

    ``retry_after`` is the provider's Retry-After in seconds, when it sent one.
    """

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ProviderTimeout(TransientError):
    """The provider did not answer in time (it may still have taken the message)."""


class Paced(TransientError):
    """The provider's pace (pacing.py) has no slot soon enough; `retry_after` says when it has. Not a failure
    of the message and no call to the provider: the caller does not count it as an attempt."""


class PermanentError(ChannelError):
    """Retrying cannot help: the message, the account or the configuration is wrong."""


class InvalidRecipient(PermanentError):
    """The address, number or device token is wrong or no longer registered.

    ``deactivate`` tells the caller to stop using the recipient (a push token the
    platform reports as unregistered); other invalid recipients may be typos.
    """

    def __init__(self, message: str, *, deactivate: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.deactivate = deactivate


class CallOutcome(StrEnum):
    """How one call to one provider ended."""

    SENT = "sent"
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    PERMANENT = "permanent"
    INVALID_RECIPIENT = "invalid_recipient"


@dataclass(frozen=True)
class ProviderCall:
    """One provider tried for one message: when, for how long, and how it ended (the audit of an attempt)."""

    provider: str
    started_at: dt.datetime
    duration_ms: int
    outcome: CallOutcome
    error: ChannelError | None = None
    message_id: str = ""

    @classmethod
    def of_error(cls, provider: str, started_at: dt.datetime, began: float, err: ChannelError) -> ProviderCall:
        if isinstance(err, ProviderTimeout):
            outcome = CallOutcome.TIMEOUT
        elif isinstance(err, TransientError):
            outcome = CallOutcome.TRANSIENT
        elif isinstance(err, InvalidRecipient):
            outcome = CallOutcome.INVALID_RECIPIENT
        else:
            outcome = CallOutcome.PERMANENT
        return cls(provider=provider, started_at=started_at, duration_ms=_elapsed_ms(began), outcome=outcome,
                   error=err)


def _elapsed_ms(began: float) -> int:
    return max(0, round((time.monotonic() - began) * 1000))


class Provider:
    """One vendor behind a channel, as a template method (after django-anymail's backends).

    ``send`` owns the sequence build payload -> call -> parse answer; subclasses
    override those narrow hooks and raise ``TransientError``/``PermanentError``
    from ``call`` and ``parse_answer``. Options come from settings ``OPTIONS``;
    unknown or missing ones raise ``ImproperlyConfigured`` when the provider is built.
    """

    name: ClassVar[str] = ""
    channel: ClassVar[Channel]
    # Its pacing.Pace when its settings give it a RATE (the registry sets it): every send waits for a slot.
    pace: Any = None
    # Push platforms this provider can reach; empty means every platform.
    platforms: ClassVar[frozenset[str]] = frozenset()
    required_options: ClassVar[Sequence[str]] = ()
    optional_options: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, **options: Any) -> None:
        known = set(self.required_options) | set(self.optional_options)
        unknown = sorted(set(options) - known)
        if unknown:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: unknown option(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(sorted(known)) or 'none'}"
            )
        missing = [key for key in self.required_options if options.get(key) in (None, "")]
        if missing:
            raise ImproperlyConfigured(
                f"{type(self).__name__}: missing required option(s) {', '.join(missing)}"
            )
        self.options: dict[str, Any] = {**self.optional_options, **options}

    def serves(self, message: Message) -> bool:
        """Whether this provider can deliver to the message's platform."""
        return not self.platforms or message.platform in self.platforms

    def send(self, message: Message) -> DeliveryResult:
        """Deliver one message; raises ``TransientError`` or ``PermanentError``."""
        payload = self.build_payload(message)
        answer = self.call(payload, message)
        return self.parse_answer(answer, message)

    def build_payload(self, message: Message) -> Any:
        """Turn the message into what the provider's API takes."""
        raise NotImplementedError

    def call(self, payload: Any, message: Message) -> Any:
        """Hand the payload to the provider; map every failure to a ``ChannelError``."""
        raise NotImplementedError

    def parse_answer(self, answer: Any, message: Message) -> DeliveryResult:
        """Read the provider's acceptance into a ``DeliveryResult``."""
        raise NotImplementedError

    def open(self) -> None:
        """Prepare what sends reuse (an HTTP client, say) ahead of the first send; optional."""

    def close(self) -> None:
        """Release pooled connections; the provider may be used again afterwards."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class ConsoleProvider(Provider):
    """Writes each message to a stream (stdout by default) instead of sending it: for development.

    A channel's console provider only says how a message reads (``build_payload``).
    """

    name = "console"
    # show_content: write the message itself (None: as CONSOLE_PROVIDERS_SHOW_CONTENT says, DEBUG by default).
    optional_options: ClassVar[Mapping[str, Any]] = {"stream": None, "show_content": None}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.stream: TextIO | None = self.options["stream"]

    def call(self, payload: str, message: Message) -> str:
        stream = self.stream or sys.stdout
        if not content_shown(self.options["show_content"]):
            what = "SMS" if message.channel == Channel.SMS else message.channel.capitalize()
            payload = withheld(what, [message.to], len(message.subject) + len(message.body), message.reference)
        stream.write(f"{payload}\n{'-' * 40}\n")
        stream.flush()
        return f"console-{uuid.uuid4().hex}"

    def parse_answer(self, answer: str, message: Message) -> DeliveryResult:
        return DeliveryResult(provider=self.name, message_id=answer)


class ChannelAdapter:
    """Delivers one channel's messages through its providers in failover order.

    ``validate`` holds the accept-time checks (no provider needed);
    ``send`` makes one pass over the providers able to serve the message: a
    transient failure moves on to the next one, a permanent one stops at once.
    Retrying with backoff is the caller's job.
    """

    channel: ClassVar[Channel]

    def __init__(self, providers: Sequence[Provider]) -> None:
        self.providers = list(providers)

    @classmethod
    def validate(cls, message: Message) -> None:
        """Raise ``PermanentError``/``InvalidRecipient`` if the message cannot be sent."""
        if message.channel != cls.channel:
            raise PermanentError(
                f"message for channel {message.channel!r} given to the {cls.channel} adapter"
            )

    def candidates(self, message: Message) -> list[Provider]:
        """The providers to try for this message, in order."""
        return [provider for provider in self.providers if provider.serves(message)]

    def send(self, message: Message, *, calls: list[ProviderCall] | None = None) -> DeliveryResult:
        """One pass over the providers; each provider tried is appended to `calls` when it is given."""
        candidates = self.candidates(message)
        if not candidates:
            where = f" for platform {message.platform!r}" if message.platform else ""
            raise PermanentError(f"no {self.channel} provider configured{where}")
        failures: list[TransientError] = []
        for provider in candidates:
            if provider.pace is not None:
                try:
                    provider.pace.wait(provider=provider.name)
                except Paced as err:  # no slot soon at this provider's pace: no call made, try the next one
                    failures.append(err)
                    continue
            started_at, began = dt.datetime.now(dt.UTC), time.monotonic()
            try:
                result = provider.send(message)
            except ChannelError as err:
                if calls is not None:
                    calls.append(ProviderCall.of_error(provider.name, started_at, began, err))
                if not isinstance(err, TransientError):
                    raise
                if provider.pace is not None and (err.status == 429 or err.retry_after is not None):
                    provider.pace.slow_down(retry_after=err.retry_after)
                logger.warning("%s failed transiently, trying the next provider: %s", provider, err)
                failures.append(err)
                if provider is not candidates[-1]:
                    provider_failed_over.send(type(self), channel=str(self.channel), provider=provider.name)
            else:
                if calls is not None:
                    calls.append(ProviderCall(provider=result.provider or provider.name, started_at=started_at,
                                              duration_ms=_elapsed_ms(began), outcome=CallOutcome.SENT,
                                              message_id=result.message_id))
                return result
        last = failures[-1]
        # Retry when the first provider says it may be back, not the last one.
        waits = [err.retry_after for err in failures if err.retry_after is not None]
        last.retry_after = min(waits) if waits else None
        raise last

    def close(self) -> None:
        for provider in self.providers:
            provider.close()
