"""Fixtures for the channels tests: the loopback fakes and providers pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from notification_channels import registry
from notification_channels.push import APNsProvider, FCMProvider
from notification_channels.sms import TwilioSMSProvider
from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.twilio import FakeTwilio

ANDROID_TOKEN = "dXk3Jq0aT0e6QkHkR0mXyZ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"
IOS_TOKEN = "a1" * 32


@pytest.fixture
def twilio(fake_twilio: FakeTwilio) -> Iterator[TwilioSMSProvider]:
    provider = TwilioSMSProvider(**fake_twilio.provider_options())
    yield provider
    provider.close()


@pytest.fixture
def fcm(fake_fcm: FakeFCM) -> Iterator[FCMProvider]:
    provider = FCMProvider(**fake_fcm.provider_options())
    yield provider
    provider.close()


@pytest.fixture
def apns(fake_apns: FakeAPNs) -> Iterator[APNsProvider]:
    provider = APNsProvider(**fake_apns.provider_options())
    yield provider
    provider.close()
