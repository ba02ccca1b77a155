"""Fixtures for the REST API tests: API clients holding keys with chosen scopes."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from tests import factories


@pytest.fixture
def make_client(db) -> Callable[..., APIClient]:
    """An API client whose requests carry a fresh key with the given scopes (all by default)."""

    def make(*scopes: str, name: str = "test-client") -> APIClient:
        key, secret = factories.api_key(name=name, scopes=list(scopes) or None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        client.key = key
        return client

    return make


@pytest.fixture
def api(make_client) -> APIClient:
    """A client with every scope."""
    return make_client()


@pytest.fixture
def anonymous(db) -> APIClient:
    return APIClient()
