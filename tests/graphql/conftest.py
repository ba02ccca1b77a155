"""Fixtures for the GraphQL tests: a client that posts operations with an API key."""

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests import factories

Execute = Callable[..., dict[str, Any]]


@pytest.fixture
def api_key(db) -> str:
    """A live key with every scope."""
    return factories.api_key("graphql-client")[1]


@pytest.fixture
def gql(client: Client, api_key: str) -> Execute:
    """Post one operation to /graphql/ and return the decoded answer (always HTTP 200).

    `key=None` sends no Authorization header; `authorization=` sends that header verbatim.
    """

    def execute(query: str, variables: dict[str, Any] | None = None, *, key: str | None = api_key,
                authorization: str | None = None) -> dict[str, Any]:
        headers = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif key is not None:
            headers["Authorization"] = f"Api-Key {key}"
        response = client.post("/graphql/", {"query": query, "variables": variables or {}},
                               content_type="application/json", headers=headers)
        assert response.status_code == 200, response.content
        return response.json()

    return execute


def error_codes(answer: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in answer.get("errors", [])]
