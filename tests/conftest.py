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
