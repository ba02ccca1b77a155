"""Loopback fakes of the providers (Twilio, FCM, APNs, SMTP) for tests and benchmarks.

Use them as context managers (``with FakeTwilio() as fake: ...``) or through the
pytest fixtures in ``tests.fakes.fixtures`` (``from tests.fakes.fixtures import *``
in a conftest).
"""

from tests.fakes.apns import FakeAPNs
from tests.fakes.base import Answer, FakeHTTPProvider, LoopbackFake, RecordedRequest
from tests.fakes.fcm import FakeFCM
from tests.fakes.keys import APNsKey, ServiceAccount, make_apns_key, make_service_account
from tests.fakes.smtp import FakeSMTP, ReceivedMail
from tests.fakes.twilio import FakeTwilio

__all__ = [
    "APNsKey",
    "Answer",
    "FakeAPNs",
    "FakeFCM",
    "FakeHTTPProvider",
    "FakeSMTP",
    "FakeTwilio",
    "LoopbackFake",
    "ReceivedMail",
    "RecordedRequest",
    "ServiceAccount",
    "make_apns_key",
    "make_service_account",
]
