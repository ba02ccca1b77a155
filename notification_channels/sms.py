"""The SMS channel: segment counting, accept-time checks, Twilio's REST API, and a console provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import (
    Channel,
    ChannelAdapter,
    ConsoleProvider,
    DeliveryResult,
    InvalidRecipient,
    Message,
    PermanentError,
)
from notification_channels.http import HTTPProvider

if TYPE_CHECKING:
    import httpx

GSM7 = "GSM-7"
UCS2 = "UCS-2"
DEFAULT_MAX_SEGMENTS = 10

# 3GPP TS 23.038 default alphabet; ESC (0x1B) is left out: it only introduces the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table characters cost two septets (ESC + the character).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# Per-segment capacity: a single message, and a part of a concatenated one
# (the user data header takes 6 bytes: 7 GSM-7 septets or 3 UCS-2 code units).
SINGLE_CAPACITY = {GSM7: 160, UCS2: 70}
PART_CAPACITY = {GSM7: 153, UCS2: 67}

# ASCII digits only (`\d` would take Arabic-Indic and other digits), matched whole (`$` lets a newline through).
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

# Twilio error codes that mean the number itself is the problem.
TWILIO_RECIPIENT_ERRORS = {
    21211: "invalid 'To' phone number",
    21614: "'To' number is not a mobile number",
    21610: "recipient has unsubscribed (replied STOP)",
}


_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def _units(text: str) -> tuple[str, list[int]]:
    """The encoding a text needs and the cost of each character in that encoding's units."""
    if set(text) <= _GSM7_ALL:
        return GSM7, [2 if char in GSM7_EXTENSION else 1 for char in text]
    # UCS-2 on the wire is UTF-16: characters outside the BMP (emoji) take two code units.
    return UCS2, [2 if ord(char) > 0xFFFF else 1 for char in text]


def _total_units(text: str) -> tuple[str, int]:
    """The encoding a text needs and its length in that encoding's units, counted per distinct character (a
    set and str.count run in C: a send checks its text's length, and most texts are one segment)."""
    chars = set(text)
    if chars <= _GSM7_ALL:
        return GSM7, len(text) + sum(text.count(char) for char in chars & GSM7_EXTENSION)
    return UCS2, len(text) + sum(text.count(char) for char in chars if ord(char) > 0xFFFF)


def sms_segments(text: str) -> tuple[str, int]:
    """How a text goes over SMS: ``(encoding, segment count)``, encoding "GSM-7" or "UCS-2".

    Concatenated messages never split an escape sequence or a surrogate pair
    across two parts, so long texts are packed character by character.
    """
    encoding, total = _total_units(text)
    if total == 0:
        return encoding, 0
    if total <= SINGLE_CAPACITY[encoding]:
        return encoding, 1
    capacity = PART_CAPACITY[encoding]
    segments, used = 1, 0
    for cost in _units(text)[1]:
        if used + cost > capacity:
            segments, used = segments + 1, 0
        used += cost
    return encoding, segments


def max_segments() -> int:
    return int(getattr(settings, "NOTIFICATION_SMS_MAX_SEGMENTS", DEFAULT_MAX_SEGMENTS))


def verify_twilio_signature(
    *, url: str, params: Mapping[str, str], signature: str, auth_token: str
) -> bool:
    """Check an ``X-Twilio-Signature`` header for a webhook Twilio sent us.

    Twilio signs the full URL followed by each POST parameter's name and value,
    sorted by name, with HMAC-SHA1 keyed by the auth token, base64-encoded.
    """
    signed = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    return hmac.compare_digest(expected.encode(), signature.encode())


class SMSAdapter(ChannelAdapter):
    channel = Channel.SMS

    @classmethod
    def validate(cls, message: Message) -> None:
        super().validate(message)
        if not E164.fullmatch(message.to):
            raise InvalidRecipient(
                f"SMS recipient {message.to!r} is not an E.164 phone number (like +14155550123)"
            )
        if not message.body:
            raise PermanentError("SMS body is empty")
        encoding, segments = sms_segments(message.body)
        limit = max_segments()
        if segments > limit:
            raise PermanentError(
                f"SMS body needs {segments} segments ({encoding}), limit is {limit}"
            )


class TwilioSMSProvider(HTTPProvider):
    """Twilio Programmable Messaging: ``POST /2010-04-01/Accounts/{sid}/Messages.json``."""

    name = "twilio"
    channel = Channel.SMS
    default_base_url = "https://api.twilio.com"
    required_options = ("account_sid", "auth_token")
    optional_options: ClassVar[Mapping[str, Any]] = {
        **HTTPProvider.optional_options,
        "from_number": "",
        "messaging_service_sid": "",
        "status_callback": "",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not (self.options["from_number"] or self.options["messaging_service_sid"]):
            raise ImproperlyConfigured(
                "TwilioSMSProvider: set from_number or messaging_service_sid"
            )
        self.account_sid: str = self.options["account_sid"]
        self.messages_url = (
            f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        )
        credentials = f"{self.account_sid}:{self.options['auth_token']}".encode()
        self.authorization = f"Basic {base64.b64encode(credentials).decode()}"

    def build_payload(self, message: Message) -> dict[str, str]:
        payload = {"To": message.to, "Body": message.body}
        # A messaging service picks the sender itself, so it wins over a fixed number.
        if self.options["messaging_service_sid"]:
            payload["MessagingServiceSid"] = self.options["messaging_service_sid"]
        else:
            payload["From"] = self.options["from_number"]
        if self.options["status_callback"]:
            payload["StatusCallback"] = self.options["status_callback"]
        return payload

    def request_for(self, payload: dict[str, str], message: Message) -> httpx.Request:
        return self.client.build_request(
            "POST",
            self.messages_url,
            data=payload,
            headers={"Authorization": self.authorization, "Accept": "application/json"},
        )

    def error_for(self, response: httpx.Response, message: Message) -> Exception:
        body = self.json_of(response)
        code = body.get("code")
        text = str(body.get("message") or f"HTTP {response.status_code}")
        if isinstance(code, int) and code in TWILIO_RECIPIENT_ERRORS:
            return InvalidRecipient(
                f"{TWILIO_RECIPIENT_ERRORS[code]}: {text}",
                provider=self.name,
                status=response.status_code,
                code=code,
            )
        return self.status_error(response, text, code=code)

    def parse_answer(self, answer: httpx.Response, message: Message) -> DeliveryResult:
        body = self.accepted_json(answer)
        detail: dict[str, Any] = {"status": body.get("status", "")}
        try:
            detail["segments"] = int(body["num_segments"])
        except (KeyError, TypeError, ValueError):
            pass
        return DeliveryResult(provider=self.name, message_id=str(body.get("sid", "")), detail=detail)


class ConsoleSMSProvider(ConsoleProvider):
    """Writes each SMS, with its segment count and encoding, to a stream instead of sending it."""

    channel = Channel.SMS

    def build_payload(self, message: Message) -> str:
        encoding, segments = sms_segments(message.body)
        reference = f" [{message.reference}]" if message.reference else ""
        return f"SMS to {message.to} ({segments} segment(s), {encoding}){reference}\n{message.body}"

    def parse_answer(self, answer: str, message: Message) -> DeliveryResult:
        return DeliveryResult(provider=self.name, message_id=answer,
                              detail={"segments": sms_segments(message.body)[1]})
