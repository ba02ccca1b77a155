"""The registry: providers from settings, accept-time validation, one failover pass, closing."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from notification_channels import registry
from notification_channels.base import Channel, InvalidRecipient, Message, PermanentError, TransientError
from notification_channels.push import APNS_MAX_PAYLOAD_BYTES, ConsolePushProvider
from notification_channels.sms import ConsoleSMSProvider, TwilioSMSProvider
from tests.notification_channels.conftest import ANDROID_TOKEN, IOS_TOKEN
from tests.fakes.base import Answer
from tests.fakes.twilio import FakeTwilio, twilio_error


def sms(body: str = "Your code is 123456", to: str = "+14155550123") -> Message:
    return Message(channel=Channel.SMS, to=to, body=body)


def push(platform: str, to: str, **kwargs: object) -> Message:
    return Message(channel=Channel.PUSH, to=to, body="Shipped", subject="Order", platform=platform, **kwargs)  # type: ignore[arg-type]


def providers(**channels: list[dict]) -> dict:
    return {"email": [], "sms": [], "push": [], **channels}


class TestProvidersFor:
    def test_built_once_and_cached(self) -> None:
        with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[{"BACKEND": "notification_channels.sms.ConsoleSMSProvider"}])):
            first = registry.providers_for(Channel.SMS)
            assert [type(p) for p in first] == [ConsoleSMSProvider]
            assert registry.providers_for("sms")[0] is first[0]

    def test_open_all_builds_the_http_clients_before_the_first_send(self, fake_twilio: FakeTwilio) -> None:
        twilio = {"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": fake_twilio.provider_options()}
        broken = {"BACKEND": "notification_channels.push.NoSuchProvider"}
        with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[twilio], push=[broken])):
            registry.open_all()  # the broken push channel is left to fail when a push is sent
            (provider,) = registry.providers_for(Channel.SMS)
            client = provider._client
            assert client is not None and not client.is_closed
            assert registry.deliver(sms()).provider == "twilio" and provider._client is client
            with pytest.raises(ImproperlyConfigured):
                registry.providers_for(Channel.PUSH)

    def test_override_settings_rebuilds(self) -> None:
        with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[{"BACKEND": "notification_channels.sms.ConsoleSMSProvider"}])):
            before = registry.providers_for(Channel.SMS)[0]
        with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[{"BACKEND": "notification_channels.sms.ConsoleSMSProvider"}])):
            assert registry.providers_for(Channel.SMS)[0] is not before

    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ({"BACKEND": "notification_channels.sms.NoSuchProvider"}, "cannot import"),
            ({"BACKEND": "nowhere.Provider"}, "cannot import"),
            ({"BACKEND": "notification_channels.base.Message"}, "not a channels Provider"),
            ({"BACKEND": "notification_channels.push.ConsolePushProvider"}, "is a push provider, not sms"),
            ({"OPTIONS": {}}, "'BACKEND'"),
            ({"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": {"auth_token": "t"}}, "account_sid"),
        ],
    )
    def test_bad_configuration_is_improperly_configured(self, config: dict, message: str) -> None:
        with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[config])):
            with pytest.raises(ImproperlyConfigured, match=message):
                registry.providers_for(Channel.SMS)


class TestValidate:
    @pytest.mark.parametrize(
        ("message", "error", "text"),
        [
            (sms(to="4155550123"), InvalidRecipient, "not an E.164 phone number"),
            (sms(to="+0155550123"), InvalidRecipient, "not an E.164 phone number"),
            (sms(body=""), PermanentError, "SMS body is empty"),
            (sms(body="ж" * 700), PermanentError, r"SMS body needs 11 segments \(UCS-2\), limit is 10"),
            (Message(Channel.EMAIL, "not-an-address", "hi"), InvalidRecipient, "'not-an-address' is not a valid email"),
            (Message(Channel.EMAIL, "a@example.com", "hi", subject="two\nlines"), PermanentError, "one line of text"),
            (Message(Channel.EMAIL, "a@example.com", "hi", subject="two\vlines"), PermanentError, "U\\+000B"),
            (Message(Channel.EMAIL, "a@example.com", ""), PermanentError, "neither a text nor an HTML body"),
            (push("windows", IOS_TOKEN), PermanentError, "push platform must be one of ios, android"),
            (push("ios", "abc123"), InvalidRecipient, "64 or more hexadecimal"),
            (push("ios", "z" * 64), InvalidRecipient, "64 or more hexadecimal"),
            (push("android", "short"), InvalidRecipient, "FCM registration token"),
            (push("android", "bad token with spaces" * 3), InvalidRecipient, "FCM registration token"),
            (push("ios", IOS_TOKEN, data={"blob": "x" * APNS_MAX_PAYLOAD_BYTES}), PermanentError,
             r"push payload is \d+ bytes, APNs allows 4096"),
            (push("android", ANDROID_TOKEN, data={"blob": "x" * 5000}), PermanentError, "FCM allows 4096"),
        ],
    )
    def test_rejections_say_why(self, message: Message, error: type, text: str) -> None:
        with pytest.raises(error, match=text):
            registry.validate(message)

    @pytest.mark.parametrize(
        "message",
        [
            sms(body="a" * 1530),
            Message(Channel.EMAIL, "ada@example.com", "Hello", subject="Hi", html_body="<p>Hello</p>"),
            push("ios", IOS_TOKEN),
            push("android", ANDROID_TOKEN, data={"order": "42"}),
        ],
    )
    def test_good_messages_pass(self, message: Message) -> None:
        registry.validate(message)

    def test_segment_limit_is_a_setting(self, settings) -> None:
        settings.NOTIFICATION_SMS_MAX_SEGMENTS = 2
        with pytest.raises(PermanentError, match="SMS body needs 3 segments \\(GSM-7\\), limit is 2"):
            registry.validate(sms(body="a" * 307))


def twilio_config(fake: FakeTwilio) -> dict:
    return {"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": fake.provider_options()}


class TestDeliver:
    def test_transient_error_fails_over_to_the_next_provider(self, fake_twilio: FakeTwilio) -> None:
        with FakeTwilio() as backup:
            with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[twilio_config(fake_twilio), twilio_config(backup)])):
                fake_twilio.enqueue(Answer(status=503, json={"code": 20503, "message": "Service unavailable"}))
                result = registry.deliver(sms())
            assert result.provider == "twilio"
            assert len(fake_twilio.requests) == 1
            assert len(backup.requests) == 1
            assert result.message_id.startswith("SM")

    def test_permanent_error_does_not_fail_over(self, fake_twilio: FakeTwilio) -> None:
        with FakeTwilio() as backup:
            with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[twilio_config(fake_twilio), twilio_config(backup)])):
                fake_twilio.enqueue(twilio_error(400, 21211, "The 'To' number is not a valid phone number."))
                with pytest.raises(InvalidRecipient):
                    registry.deliver(sms())
            assert backup.requests == []

    def test_all_transient_reraises_with_the_soonest_retry_after(self, fake_twilio: FakeTwilio) -> None:
        with FakeTwilio() as backup:
            with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[twilio_config(fake_twilio), twilio_config(backup)])):
                fake_twilio.enqueue(Answer(status=429, json={"code": 20429, "message": "Too Many Requests"},
                                           headers={"Retry-After": "5"}))
                backup.enqueue(Answer(status=503, json={"code": 20503, "message": "down"}, headers={"Retry-After": "60"}))
                with pytest.raises(TransientError) as caught:
                    registry.deliver(sms())
            assert caught.value.status == 503  # the last provider's error
            assert caught.value.retry_after == 5.0

    def test_push_picks_the_platform_provider(self, fake_apns, fake_fcm) -> None:
        with override_settings(NOTIFICATION_PROVIDERS=providers(push=[
            {"BACKEND": "notification_channels.push.FCMProvider", "OPTIONS": fake_fcm.provider_options()},
            {"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()},
        ])):
            assert registry.deliver(push("ios", IOS_TOKEN)).provider == "apns"
            assert registry.deliver(push("android", ANDROID_TOKEN)).provider == "fcm"
        assert len(fake_apns.requests) == 1
        assert len(fake_fcm.requests_to("messages:send")) == 1

    def test_push_without_a_provider_for_the_platform(self, fake_apns) -> None:
        with override_settings(NOTIFICATION_PROVIDERS=providers(push=[
            {"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()},
        ])):
            with pytest.raises(PermanentError, match="no push provider configured for platform 'android'"):
                registry.deliver(push("android", ANDROID_TOKEN))

    def test_console_push_backs_up_apns(self, fake_apns) -> None:
        stream = io.StringIO()
        with override_settings(NOTIFICATION_PROVIDERS=providers(push=[
            {"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()},
            {"BACKEND": "notification_channels.push.ConsolePushProvider",
             "OPTIONS": {"stream": stream, "show_content": True}},
        ])):
            fake_apns.enqueue(Answer(status=503, json={"reason": "ServiceUnavailable"}))
            assert registry.deliver(push("ios", IOS_TOKEN)).provider == "console"
        assert IOS_TOKEN in stream.getvalue()

    def test_email_through_the_default_backend(self) -> None:
        from django.core import mail

        result = registry.deliver(Message(Channel.EMAIL, "ada@example.com", "Hello", subject="Hi"))
        assert result.provider == "locmem"
        assert mail.outbox[0].to == ["ada@example.com"]


def test_close_releases_http_clients(fake_twilio: FakeTwilio) -> None:
    with override_settings(NOTIFICATION_PROVIDERS=providers(sms=[twilio_config(fake_twilio)])):
        registry.deliver(sms())
        (provider,) = registry.providers_for(Channel.SMS)
        assert isinstance(provider, TwilioSMSProvider)
        client = provider.client
        registry.close()
        assert client.is_closed
        assert registry.providers_for(Channel.SMS)[0] is not provider


def test_console_push_provider_type() -> None:
    with override_settings(NOTIFICATION_PROVIDERS=providers(push=[{"BACKEND": "notification_channels.push.ConsolePushProvider"}])):
        assert isinstance(registry.providers_for(Channel.PUSH)[0], ConsolePushProvider)
