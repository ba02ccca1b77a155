"""Fixtures for the security tests: API clients by scope (shared with the REST tests) and a GraphQL poster."""

from typing import Any

import pytest
from django.test import Client

from tests.api.conftest import anonymous, api, make_client  # noqa: F401  (re-exported fixtures)


@pytest.fixture
def graphql(db):
    """Post one operation to /graphql/ with `Authorization: Api-Key <secret>`; the decoded answer."""

    def execute(secret: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = Client().post("/graphql/", {"query": query, "variables": variables or {}},
                                 content_type="application/json", headers={"Authorization": f"Api-Key {secret}"})
        assert response.status_code == 200, response.content
        return response.json()

    return execute
