"""Fixtures for the consent tests: the REST tests' API clients holding keys with chosen scopes."""

from tests.api.conftest import make_client  # noqa: F401
