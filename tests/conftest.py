"""Fixtures shared by every test: a clean cache, factories, API keys."""

import pytest
from django.core.cache import cache

from tests import factories


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (the real Redis when REDIS_URL is set)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def template(db):
    return factories.NotificationTemplateFactory()


@pytest.fixture
def preference(db):
    return factories.UserPreferenceFactory(user_id=1001)


from notification_channels import registry  # noqa: E402
from tests.fakes.fixtures import *  # noqa: E402,F401,F403  (fake_twilio, fake_fcm, fake_apns, fake_smtp, keys)


@pytest.fixture(autouse=True)
def _fresh_providers():
    """Providers are built once per process; each test starts from the settings it set."""
    registry.close()
    yield
    registry.close()


@pytest.fixture
def sms_via(settings):
    """Point the SMS channel at the given fakes, in failover order."""

    def configure(*fakes):
        settings.NOTIFICATION_PROVIDERS = {
            **settings.NOTIFICATION_PROVIDERS,
            "sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": fake.provider_options()}
                    for fake in fakes],
        }

    return configure
