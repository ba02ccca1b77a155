"""The email channel: address checks and a provider that sends through Django's mail backends."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.core.validators import validate_email

from notification_channels.base import (
    Channel,
    ChannelAdapter,
    ChannelError,
    DeliveryResult,
    InvalidRecipient,
    Message,
    PermanentError,
    Provider,
    ProviderTimeout,
    TransientError,
    one_line_problem,
)

REFERENCE_HEADER = "X-Notification-Id"


class EmailAdapter(ChannelAdapter):
    channel = Channel.EMAIL

    @classmethod
    def validate(cls, message: Message) -> None:
        super().validate(message)
        try:
            validate_email(message.to)
        except ValidationError as err:
            raise InvalidRecipient(f"{message.to!r} is not a valid email address") from err
        if problem := one_line_problem(message.subject):
            raise PermanentError(f"email subject must be one line of text; it {problem}")
        if not (message.body or message.html_body):
            raise PermanentError("email has neither a text nor an HTML body")


def backend_short_name(path: str) -> str:
    """"django.core.mail.backends.smtp.EmailBackend" -> "smtp"; anymail's ESP modules give the ESP."""
    module = path.rsplit(".", 1)[0]
    return module.rsplit(".", 1)[-1]


def _smtp_status_error(text: str, code: int, provider: str) -> ChannelError:
    # SMTP reply classes: 4xx "try again later", 5xx "this will never work".
    if 500 <= code < 600:
        return PermanentError(text, provider=provider, status=code, code=code)
    return TransientError(text, provider=provider, status=code, code=code)


def _anymail_error(err: Exception, provider: str) -> ChannelError | None:
    """Map django-anymail's exceptions, when anymail is installed."""
    try:
        from anymail import exceptions as anymail_exceptions
    except ImportError:
        return None
    if not isinstance(err, anymail_exceptions.AnymailError):
        return None
    # The ESP's own words; str(err) would also dump the HTTP response, which may be absent.
    text = " ".join(str(arg) for arg in err.args) or type(err).__name__
    if isinstance(err, anymail_exceptions.AnymailRecipientsRefused | anymail_exceptions.AnymailInvalidAddress):
        return InvalidRecipient(text, provider=provider)
    if isinstance(err, anymail_exceptions.AnymailAPIError):
        status = getattr(err, "status_code", None)
        if status is None or status == 429 or status >= 500:
            return TransientError(text, provider=provider, status=status)
        return PermanentError(text, provider=provider, status=status)
    return PermanentError(text, provider=provider)


def mail_error(err: Exception, provider: str) -> ChannelError:
    """The ``ChannelError`` for an exception raised by a Django mail backend."""
    # Anymail first: its HTTP errors are also OSErrors (via requests), but carry the ESP's status.
    mapped = _anymail_error(err, provider)
    if mapped is not None:
        return mapped
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        replies = {addr: (code, reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply))
                   for addr, (code, reply) in err.recipients.items()}
        text = "; ".join(f"{addr} refused: {code} {reply}" for addr, (code, reply) in replies.items())
        codes = [code for code, _ in replies.values()]
        if codes and all(500 <= code < 600 for code in codes):
            return InvalidRecipient(text, provider=provider, status=codes[0], code=codes[0])
        return TransientError(text, provider=provider, status=codes[0] if codes else None)
    if isinstance(err, smtplib.SMTPResponseException):
        reply = err.smtp_error.decode(errors="replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
        return _smtp_status_error(f"SMTP {err.smtp_code} {reply}", err.smtp_code, provider)
    if isinstance(err, smtplib.SMTPNotSupportedError | BadHeaderError):
        return PermanentError(str(err), provider=provider)
    if isinstance(err, TimeoutError):
        return ProviderTimeout(f"mail server did not answer in time: {err}", provider=provider)
    if isinstance(err, smtplib.SMTPException | OSError):
        # Disconnects, refused connections, timeouts: the server may be back soon.
        return TransientError(f"mail server unreachable: {err}", provider=provider)
    return PermanentError(f"{type(err).__name__}: {err}", provider=provider)


class DjangoMailProvider(Provider):
    """Sends through a Django mail backend (``EMAIL_BACKEND`` unless OPTIONS names one).

    One backend connection is opened and kept for later sends; Django's SMTP
    backend serialises its use with a lock. ``backend_options`` go to
    ``get_connection`` (host, port, credentials...), ``from_email`` defaults to
    ``DEFAULT_FROM_EMAIL``.
    """

    channel = Channel.EMAIL
    optional_options: ClassVar[Mapping[str, Any]] = {
        "backend": "",
        "backend_options": None,
        "from_email": "",
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._connection: BaseEmailBackend | None = None
        self._connection_path = ""
        self._lock = threading.Lock()

    @property
    def backend_path(self) -> str:
        # Read EMAIL_BACKEND at send time: test runners swap it for locmem after settings load.
        return self.options["backend"] or settings.EMAIL_BACKEND

    @property
    def name(self) -> str:  # type: ignore[override]
        return backend_short_name(self.backend_path)

    def connection(self) -> BaseEmailBackend:
        """The open backend connection, rebuilt if the configured backend changed."""
        with self._lock:
            path = self.backend_path
            if self._connection is None or self._connection_path != path:
                self._close_connection()
                self._connection = get_connection(path, fail_silently=False, **(self.options["backend_options"] or {}))
                self._connection_path = path
            return self._connection

    def build_payload(self, message: Message) -> EmailMultiAlternatives:
        headers = {**message.headers, "Message-ID": make_msgid(domain=str(DNS_NAME))}
        if message.reference:
            headers[REFERENCE_HEADER] = message.reference
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=self.options["from_email"] or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers=headers,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        return email

    def call(self, payload: EmailMultiAlternatives, message: Message) -> EmailMultiAlternatives:
        provider = self.name
        try:
            sent = self._send_over_kept_connection(payload)
        except Exception as err:  # noqa: BLE001 - mail backends raise anything; none may leak
            self.close()
            raise mail_error(err, provider) from err
        if not sent:
            raise PermanentError("the mail backend accepted no message", provider=provider)
        return payload

    def _send_over_kept_connection(self, payload: EmailMultiAlternatives) -> int:
        connection = self.connection()
        try:
            # Opening first makes the backend keep the connection after sending.
            connection.open()
            return connection.send_messages([payload])
        except smtplib.SMTPServerDisconnected:
            # The server dropped our idle connection: one fresh attempt.
            self.close()
            connection = self.connection()
            connection.open()
            return connection.send_messages([payload])

    def parse_answer(self, answer: EmailMultiAlternatives, message: Message) -> DeliveryResult:
        status = getattr(answer, "anymail_status", None)
        esp_id = getattr(status, "message_id", None) if status is not None else None
        message_id = str(esp_id) if esp_id is not None else answer.extra_headers["Message-ID"]
        return DeliveryResult(provider=self.name, message_id=message_id)

    def _close_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # noqa: BLE001 - closing a dead connection must not fail a send
                pass
            self._connection = None

    def close(self) -> None:
        with self._lock:
            self._close_connection()
