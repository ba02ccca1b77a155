"""Email: Django's mail backends (locmem, a real SMTP server, anymail) and SMTP error mapping."""

from __future__ import annotations

import smtplib
import socket

import pytest
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.core import mail

from notification_channels.base import Channel, InvalidRecipient, Message, PermanentError, TransientError
from notification_channels.email import DjangoMailProvider, mail_error
from tests.fakes.smtp import FakeSMTP


def email(**kwargs: object) -> Message:
    fields: dict = {
        "channel": Channel.EMAIL,
        "to": "ada@example.com",
        "subject": "Welcome, Ada",
        "body": "Hello Ada",
        "html_body": "<p>Hello <b>Ada</b></p>",
        "reference": "log-101",
    }
    return Message(**{**fields, **kwargs})


@pytest.fixture
def smtp_provider(fake_smtp: FakeSMTP):
    provider = DjangoMailProvider(**fake_smtp.provider_options(), from_email="Notices <notices@example.com>")
    yield provider
    provider.close()


class TestLocmem:
    def test_sends_text_and_html_with_our_headers(self) -> None:
        result = DjangoMailProvider().send(email())

        (sent,) = mail.outbox
        assert (sent.subject, sent.body, sent.to) == ("Welcome, Ada", "Hello Ada", ["ada@example.com"])
        assert sent.alternatives[0][:2] == ("<p>Hello <b>Ada</b></p>", "text/html")
        assert sent.extra_headers["X-Notification-Id"] == "log-101"
        assert result.provider == "locmem"
        assert result.message_id == sent.extra_headers["Message-ID"]
        assert result.message_id.startswith("<") and result.message_id.endswith(">")

    def test_text_only_has_no_alternative(self) -> None:
        DjangoMailProvider().send(email(html_body=None, reference=""))
        (sent,) = mail.outbox
        assert sent.alternatives == []
        assert "X-Notification-Id" not in sent.extra_headers


class TestSMTP:
    def test_delivers_a_multipart_alternative_message(self, smtp_provider: DjangoMailProvider,
                                                      fake_smtp: FakeSMTP) -> None:
        result = smtp_provider.send(email())

        (received,) = fake_smtp.messages
        assert received.mail_from == "notices@example.com"
        assert received.rcpt_tos == ["ada@example.com"]
        message = received.message
        assert message["Subject"] == "Welcome, Ada"
        assert message["X-Notification-Id"] == "log-101"
        assert message.get_content_type() == "multipart/alternative"
        assert message.get_body(("plain",)).get_content().strip() == "Hello Ada"
        assert message.get_body(("html",)).get_content().strip() == "<p>Hello <b>Ada</b></p>"
        assert result.provider == "smtp"
        assert result.message_id == message["Message-ID"]

    def test_keeps_one_connection_for_several_sends(self, smtp_provider: DjangoMailProvider,
                                                   fake_smtp: FakeSMTP) -> None:
        for _ in range(3):
            smtp_provider.send(email())
        assert len(fake_smtp.messages) == 3
        assert fake_smtp.connections == 1

    def test_reconnects_when_the_server_dropped_the_idle_connection(
        self, smtp_provider: DjangoMailProvider, fake_smtp: FakeSMTP
    ) -> None:
        smtp_provider.send(email())
        smtp_provider.connection().connection.sock.shutdown(socket.SHUT_RDWR)  # as an idle timeout would
        smtp_provider.send(email())
        assert len(fake_smtp.messages) == 2
        assert fake_smtp.connections == 2, [m.peer for m in fake_smtp.messages]

    def test_refused_recipient_is_invalid(self, smtp_provider: DjangoMailProvider, fake_smtp: FakeSMTP) -> None:
        fake_smtp.refuse["ada@example.com"] = "550 5.1.1 User unknown"
        with pytest.raises(InvalidRecipient, match="ada@example.com refused: 550 5.1.1 User unknown") as caught:
            smtp_provider.send(email())
        assert caught.value.status == 550
        assert caught.value.provider == "smtp"

    def test_greylisted_recipient_is_transient(self, smtp_provider: DjangoMailProvider,
                                               fake_smtp: FakeSMTP) -> None:
        fake_smtp.refuse["ada@example.com"] = "450 4.2.0 Greylisted, try again"
        with pytest.raises(TransientError, match="450"):
            smtp_provider.send(email())

    @pytest.mark.parametrize(
        ("reply", "expected"), [("451 4.3.0 Try again later", TransientError), ("554 5.6.0 Rejected", PermanentError)]
    )
    def test_data_replies(self, smtp_provider: DjangoMailProvider, fake_smtp: FakeSMTP,
                          reply: str, expected: type) -> None:
        fake_smtp.enqueue_data_reply(reply)
        with pytest.raises(expected, match=reply.split()[0]) as caught:
            smtp_provider.send(email())
        assert not isinstance(caught.value, InvalidRecipient)
        assert isinstance(caught.value.__cause__, smtplib.SMTPDataError)
        smtp_provider.send(email())  # the provider recovers after an error
        assert len(fake_smtp.messages) == 1

    def test_unreachable_server_is_transient(self, fake_smtp: FakeSMTP) -> None:
        options = fake_smtp.provider_options()
        fake_smtp.stop()
        provider = DjangoMailProvider(**options)
        with pytest.raises(TransientError, match="mail server unreachable"):
            provider.send(email())


class TestAnymail:
    def test_esp_message_id_is_used(self) -> None:
        provider = DjangoMailProvider(backend="anymail.backends.test.EmailBackend")
        result = provider.send(email())
        assert result.provider == "test"
        assert result.message_id == "0"  # anymail's test ESP numbers messages by outbox position

    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (AnymailRecipientsRefused("all recipients rejected"), InvalidRecipient),
            (AnymailAPIError("ESP down", status_code=503), TransientError),
            (AnymailAPIError("throttled", status_code=429), TransientError),
            (AnymailAPIError("bad request", status_code=400), PermanentError),
        ],
    )
    def test_errors_are_mapped(self, error: Exception, expected: type) -> None:
        mapped = mail_error(error, "sendgrid")
        assert type(mapped) is expected
        assert mapped.provider == "sendgrid"
