"""Fixtures for the operations tests: templates, a user with contact points, API clients, metric reads."""

import contextlib
from collections.abc import Callable, Iterator

import pytest
from django.db import connection
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from preferences_app.services import device_add, preference_update
from templates_app.services import template_create
from tests import factories

IOS_TOKEN = "ef" * 32
CONTEXT = {"code": "4711", "name": "Ada"}


@pytest.fixture
def templates(db) -> None:
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1"})
    template_create(name="welcome", type="email", subject="Welcome {{ name }}", body="Hi {{ name }}",
                    html_body="<p>Hi {{ name }}</p>", variables={"name": "Ada"})


@pytest.fixture
def user(templates):
    preference = preference_update(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    device_add(user_id=1001, platform="ios", token=IOS_TOKEN)
    return preference


@pytest.fixture
def make_client(db) -> Callable[..., APIClient]:
    """An API client whose key has the given scopes (all by default)."""

    def make(*scopes: str) -> APIClient:
        _, secret = factories.api_key(name="ops-tests", scopes=list(scopes) or None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        return client

    return make


def sample(name: str, **labels: str) -> float:
    """A metric's current value in this process (0 when it has not been counted yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@contextlib.contextmanager
def connection_changed(**changes: object) -> Iterator[None]:
    """This process's database connection reopened with `changes` in its settings (another host or port), then
    reopened as it was."""
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(changes)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
