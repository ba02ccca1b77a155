"""SMS: segment counting, Twilio's wire format and error mapping, signatures, the console provider."""

from __future__ import annotations

import io
import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import Channel, InvalidRecipient, Message, PermanentError, TransientError
from notification_channels.sms import ConsoleSMSProvider, TwilioSMSProvider, sms_segments, verify_twilio_signature
from tests.fakes.base import Answer
from tests.fakes.twilio import FakeTwilio, twilio_error


def sms(body: str = "Your code is 123456", to: str = "+14155550123", **kwargs: str) -> Message:
    return Message(channel=Channel.SMS, to=to, body=body, **kwargs)


class TestSegments:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", ("GSM-7", 0)),
            ("a" * 160, ("GSM-7", 1)),
            ("a" * 161, ("GSM-7", 2)),
            ("a" * 306, ("GSM-7", 2)),
            ("a" * 307, ("GSM-7", 3)),
            ("Ça va? 5€ {ok} Ñoño", ("GSM-7", 1)),
            ("€" * 80, ("GSM-7", 1)),  # extension characters cost two septets: 160
            ("€" * 81, ("GSM-7", 2)),
            ("a" * 70 + "ł", ("UCS-2", 2)),  # one non-GSM letter turns the whole text to UCS-2
            ("Привет" * 11 + "ab", ("UCS-2", 1)),  # 68 characters
            ("😀" * 35, ("UCS-2", 1)),  # emoji are two UTF-16 code units: 70
            ("😀" * 36, ("UCS-2", 2)),
            ("ж" * 134, ("UCS-2", 2)),
            ("ж" * 135, ("UCS-2", 3)),
        ],
    )
    def test_encoding_and_count(self, text: str, expected: tuple[str, int]) -> None:
        assert sms_segments(text) == expected

    def test_an_escape_sequence_is_never_split_across_parts(self) -> None:
        # 306 septets would fit two 153-septet parts, but the € straddles the boundary.
        assert sms_segments("a" * 152 + "€" + "a" * 152) == ("GSM-7", 3)

    def test_a_surrogate_pair_is_never_split_across_parts(self) -> None:
        assert sms_segments("ж" * 66 + "😀" + "ж" * 66) == ("UCS-2", 3)


class TestTwilioSignature:
    # The example from Twilio's "Webhooks security" documentation.
    URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
    PARAMS = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }

    def test_documented_example_verifies(self) -> None:
        assert verify_twilio_signature(
            url=self.URL, params=self.PARAMS, signature="0/KCTR6DLpKmkAf8muzZqo1nDgQ=", auth_token="12345"
        )

    @pytest.mark.parametrize(
        ("change", "value"),
        [("auth_token", "54321"), ("url", URL + "&x=1"), ("signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ")],
    )
    def test_anything_changed_fails(self, change: str, value: str) -> None:
        arguments = {"url": self.URL, "params": self.PARAMS, "signature": "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
                     "auth_token": "12345", change: value}
        assert not verify_twilio_signature(**arguments)

    def test_a_changed_parameter_fails(self) -> None:
        params = {**self.PARAMS, "Digits": "1235"}
        assert not verify_twilio_signature(
            url=self.URL, params=params, signature="0/KCTR6DLpKmkAf8muzZqo1nDgQ=", auth_token="12345"
        )


class TestTwilioProvider:
    def test_sends_the_real_wire_format(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        result = twilio.send(sms("Hello there"))

        (request,) = fake_twilio.requests
        assert request.method == "POST"
        assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.form == {"To": "+14155550123", "From": "+15005550006", "Body": "Hello there"}
        assert result.provider == "twilio"
        assert re.fullmatch(r"SM[0-9a-f]{32}", result.message_id)
        assert result.detail == {"status": "queued", "segments": 1}

    def test_messaging_service_and_status_callback(self, fake_twilio: FakeTwilio) -> None:
        options = fake_twilio.provider_options(
            messaging_service_sid="MG" + "1" * 32, status_callback="https://example.com/hooks/twilio"
        )
        del options["from_number"]
        provider = TwilioSMSProvider(**options)
        try:
            provider.send(sms())
        finally:
            provider.close()
        form = fake_twilio.requests[0].form
        assert "From" not in form
        assert form["MessagingServiceSid"] == "MG" + "1" * 32
        assert form["StatusCallback"] == "https://example.com/hooks/twilio"

    def test_reuses_one_client_and_connection(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        twilio.send(sms())
        client = twilio.client
        twilio.send(sms())
        assert twilio.client is client
        assert len(fake_twilio.requests) == 2
        assert fake_twilio.open_connections == 1

    @pytest.mark.parametrize("code", [21211, 21614, 21610])
    def test_recipient_errors_are_invalid_recipient(
        self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio, code: int
    ) -> None:
        fake_twilio.enqueue(twilio_error(400, code, "The 'To' number +1555 is not valid."))
        with pytest.raises(InvalidRecipient) as caught:
            twilio.send(sms())
        assert (caught.value.provider, caught.value.status, caught.value.code) == ("twilio", 400, code)
        assert caught.value.deactivate is False
        assert "The 'To' number +1555 is not valid." in str(caught.value)

    def test_fake_rejects_unreachable_numbers_with_21211(
        self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio
    ) -> None:
        fake_twilio.invalid_numbers.add("+14155550000")
        with pytest.raises(InvalidRecipient, match="invalid 'To' phone number"):
            twilio.send(sms(to="+14155550000"))

    def test_other_client_errors_are_permanent(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        fake_twilio.enqueue(twilio_error(400, 21606, "The 'From' phone number is not a valid, SMS-capable number"))
        with pytest.raises(PermanentError) as caught:
            twilio.send(sms())
        assert not isinstance(caught.value, InvalidRecipient)
        assert caught.value.code == 21606

    def test_wrong_credentials_are_permanent(self, fake_twilio: FakeTwilio) -> None:
        provider = TwilioSMSProvider(**{**fake_twilio.provider_options(), "auth_token": "wrong"})
        with pytest.raises(PermanentError) as caught:
            provider.send(sms())
        provider.close()
        assert (caught.value.status, caught.value.code) == (401, 20003)

    def test_429_is_transient_with_retry_after(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        fake_twilio.enqueue(Answer(status=429, json={"code": 20429, "message": "Too Many Requests"},
                                   headers={"Retry-After": "7"}))
        with pytest.raises(TransientError) as caught:
            twilio.send(sms())
        assert (caught.value.status, caught.value.retry_after) == (429, 7.0)

    def test_5xx_is_transient(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        fake_twilio.enqueue(Answer(status=503, body=b"<html>Service Unavailable</html>"))
        with pytest.raises(TransientError, match="HTTP 503"):
            twilio.send(sms())

    def test_dropped_connection_is_transient(self, twilio: TwilioSMSProvider, fake_twilio: FakeTwilio) -> None:
        fake_twilio.enqueue(Answer(drop=True))
        with pytest.raises(TransientError, match="connection failed"):
            twilio.send(sms())
        assert twilio.send(sms()).message_id.startswith("SM")  # the pool recovers

    def test_timeout_is_transient(self, fake_twilio: FakeTwilio) -> None:
        provider = TwilioSMSProvider(**fake_twilio.provider_options(), timeout=0.2)
        fake_twilio.enqueue(Answer(status=201, json={"sid": "SMlate"}, delay=0.5))
        with pytest.raises(TransientError, match="timed out"):
            provider.send(sms())
        provider.close()

    def test_unreachable_server_is_transient(self, fake_twilio: FakeTwilio) -> None:
        options = fake_twilio.provider_options()
        fake_twilio.stop()
        provider = TwilioSMSProvider(**options)
        with pytest.raises(TransientError) as caught:
            provider.send(sms())
        assert caught.value.__cause__ is not None  # the httpx error is chained, not leaked
        provider.close()

    @pytest.mark.parametrize(
        "options",
        [
            {"auth_token": "t", "from_number": "+15005550006"},
            {"account_sid": "AC1", "from_number": "+15005550006"},
            {"account_sid": "AC1", "auth_token": "t"},
            {"account_sid": "AC1", "auth_token": "t", "from_number": "+1", "api_key": "typo"},
        ],
    )
    def test_bad_options_fail_when_built(self, options: dict[str, str]) -> None:
        with pytest.raises(ImproperlyConfigured):
            TwilioSMSProvider(**options)


def test_console_provider_writes_the_message() -> None:
    stream = io.StringIO()
    result = ConsoleSMSProvider(stream=stream, show_content=True).send(sms("Hi 😀", reference="log-42"))
    output = stream.getvalue()
    assert "SMS to +14155550123 (1 segment(s), UCS-2) [log-42]" in output
    assert "Hi 😀" in output
    assert result.provider == "console"
    assert result.message_id.startswith("console-")
