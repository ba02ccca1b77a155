"""Pytest fixtures for the loopback fakes; a conftest uses them with ``from tests.fakes.fixtures import *``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.apns import FakeAPNs
from tests.fakes.fcm import FakeFCM
from tests.fakes.keys import APNsKey, ServiceAccount, make_apns_key, make_service_account
from tests.fakes.smtp import FakeSMTP
from tests.fakes.sns import FakeSNS
from tests.fakes.twilio import FakeTwilio

__all__ = ["apns_key", "fake_apns", "fake_fcm", "fake_smtp", "fake_sns", "fake_twilio", "service_account"]


@pytest.fixture(scope="session")
def service_account() -> ServiceAccount:
    """A freshly generated Google service account (RSA key), once per test session."""
    return make_service_account()


@pytest.fixture(scope="session")
def apns_key() -> APNsKey:
    """A freshly generated APNs auth key (EC P-256), once per test session."""
    return make_apns_key()


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_sns() -> Iterator[FakeSNS]:
    with FakeSNS() as fake:
        yield fake


@pytest.fixture
def fake_fcm(service_account: ServiceAccount) -> Iterator[FakeFCM]:
    with FakeFCM(account=service_account) as fake:
        yield fake


@pytest.fixture
def fake_apns(apns_key: APNsKey) -> Iterator[FakeAPNs]:
    with FakeAPNs(key=apns_key) as fake:
        yield fake


@pytest.fixture
def fake_smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as fake:
        yield fake
