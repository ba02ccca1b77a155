"""Amazon SNS for SMS: what the AWS SDK puts on the wire, and what each of SNS's refusals means to us."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import Channel, InvalidRecipient, Message, PermanentError, TransientError
from notification_channels.sns import SNSSMSProvider
from tests.fakes.base import Answer
from tests.fakes.sns import FakeSNS, sns_error


def sms(body: str = "Your code is 123456", to: str = "+14155550123") -> Message:
    return Message(channel=Channel.SMS, to=to, body=body)


@pytest.fixture
def sns(fake_sns: FakeSNS) -> Iterator[SNSSMSProvider]:
    provider = SNSSMSProvider(**fake_sns.provider_options())
    yield provider
    provider.close()


def send_with(fake_sns: FakeSNS, **options: str) -> SNSSMSProvider:
    provider = SNSSMSProvider(**fake_sns.provider_options(**options))
    try:
        provider.send(sms())
    finally:
        provider.close()
    return provider


class TestWireFormat:
    def test_publishes_to_the_number_signed_for_the_region(self, sns: SNSSMSProvider, fake_sns: FakeSNS) -> None:
        result = sns.send(sms("Hello there"))

        (request,) = fake_sns.requests
        assert (request.method, request.path) == ("POST", "/")
        assert request.headers["authorization"].startswith(
            f"AWS4-HMAC-SHA256 Credential={fake_sns.access_key_id}/")
        assert f"/{fake_sns.region}/sns/aws4_request" in request.headers["authorization"]
        form = request.form
        assert (form["Action"], form["Version"]) == ("Publish", "2010-03-31")
        assert (form["PhoneNumber"], form["Message"]) == ("+14155550123", "Hello there")
        assert fake_sns.attributes(form) == {"AWS.SNS.SMS.SMSType": "Transactional"}
        assert result.provider == "sns"
        assert result.message_id == fake_sns.message_ids[0]
        uuid.UUID(result.message_id)

    def test_sender_id_origination_number_type_and_price(self, fake_sns: FakeSNS) -> None:
        send_with(fake_sns, sender_id="ACME", origination_number="+15005550006", sms_type="Promotional",
                  max_price="0.50")

        assert fake_sns.attributes(fake_sns.published()[0]) == {
            "AWS.SNS.SMS.SMSType": "Promotional",
            "AWS.SNS.SMS.SenderID": "ACME",
            "AWS.MM.SMS.OriginationNumber": "+15005550006",
            "AWS.SNS.SMS.MaxPrice": "0.50",
        }

    def test_the_fake_refuses_an_unsigned_or_misregioned_request(self, fake_sns: FakeSNS) -> None:
        provider = SNSSMSProvider(**{**fake_sns.provider_options(), "region": "us-east-1"})
        with pytest.raises(PermanentError, match="signed for us-east-1/sns"):
            provider.send(sms())
        provider.close()

    def test_reuses_one_client_and_connection(self, sns: SNSSMSProvider, fake_sns: FakeSNS) -> None:
        sns.send(sms())
        client = sns.client
        sns.send(sms())
        assert sns.client is client
        assert len(fake_sns.published()) == 2
        assert fake_sns.open_connections == 1


class TestErrors:
    def test_an_opted_out_number_is_an_invalid_recipient(self, sns: SNSSMSProvider, fake_sns: FakeSNS) -> None:
        fake_sns.opted_out.add("+14155550000")
        with pytest.raises(InvalidRecipient, match="opted out") as caught:
            sns.send(sms(to="+14155550000"))
        assert (caught.value.provider, caught.value.status, caught.value.code) == ("sns", 400, "InvalidParameter")
        assert caught.value.deactivate is False

    @pytest.mark.parametrize("code", ["Throttling", "ThrottlingException", "KMSThrottling"])
    def test_throttling_is_transient(self, sns: SNSSMSProvider, fake_sns: FakeSNS, code: str) -> None:
        fake_sns.enqueue(sns_error(400, code, "Rate exceeded"))
        with pytest.raises(TransientError, match="Rate exceeded") as caught:
            sns.send(sms())
        assert caught.value.code == code
        assert len(fake_sns.requests) == 1  # the SDK's own retries are off

    @pytest.mark.parametrize("status", [500, 503])
    def test_server_errors_are_transient(self, sns: SNSSMSProvider, fake_sns: FakeSNS, status: int) -> None:
        fake_sns.enqueue(sns_error(status, "InternalError", "Internal failure", kind="Receiver"))
        with pytest.raises(TransientError):
            sns.send(sms())
        assert len(fake_sns.requests) == 1

    def test_the_spend_limit_is_permanent(self, sns: SNSSMSProvider, fake_sns: FakeSNS) -> None:
        fake_sns.enqueue(sns_error(400, "InvalidParameter",
                                   "Invalid parameter: the monthly SMS spend limit for this account is exceeded"))
        with pytest.raises(PermanentError, match="spend limit") as caught:
            sns.send(sms())
        assert not isinstance(caught.value, (InvalidRecipient, TransientError))

    def test_wrong_credentials_are_permanent(self, fake_sns: FakeSNS) -> None:
        provider = SNSSMSProvider(**{**fake_sns.provider_options(), "access_key_id": "AKIAWRONG00000000000"})
        with pytest.raises(PermanentError, match="not known") as caught:
            provider.send(sms())
        provider.close()
        assert (caught.value.status, caught.value.code) == (403, "InvalidClientTokenId")

    def test_a_dropped_connection_is_transient(self, sns: SNSSMSProvider, fake_sns: FakeSNS) -> None:
        fake_sns.enqueue(Answer(drop=True))
        with pytest.raises(TransientError, match="unreachable"):
            sns.send(sms())
        assert sns.send(sms()).provider == "sns"  # the pool recovers

    def test_a_timeout_is_transient(self, fake_sns: FakeSNS) -> None:
        provider = SNSSMSProvider(**fake_sns.provider_options(), timeout=0.2)
        fake_sns.enqueue(Answer(status=200, body=b"<late/>", delay=0.6))
        with pytest.raises(TransientError) as caught:
            provider.send(sms())
        provider.close()
        assert caught.value.__cause__ is not None

    def test_an_unreachable_endpoint_is_transient(self, fake_sns: FakeSNS) -> None:
        options = fake_sns.provider_options()
        fake_sns.stop()
        provider = SNSSMSProvider(**options)
        with pytest.raises(TransientError):
            provider.send(sms())
        provider.close()


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"region": "eu-west-1", "access_key_id": "AKIA"},
        {"region": "eu-west-1", "secret_access_key": "s"},
        {"region": "eu-west-1", "sms_type": "Marketing"},
        {"region": "eu-west-1", "sender": "typo"},
    ],
)
def test_bad_options_fail_when_built(options: dict[str, str]) -> None:
    with pytest.raises(ImproperlyConfigured):
        SNSSMSProvider(**options)
