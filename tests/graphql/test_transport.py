"""Requests /graphql/ cannot run are answered in the GraphQL shape with GraphQL-over-HTTP status codes."""

import json

import pytest

pytestmark = pytest.mark.django_db


def post(client, api_key, body: str, **headers):
    return client.post("/graphql/", body, content_type=headers.pop("content_type", "application/json"),
                       headers={"Authorization": f"Api-Key {api_key}", **headers})


def only_error(response) -> dict:
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1
    return body["errors"][0]


@pytest.mark.parametrize("body, words", [
    ("{not json", "Unable to parse request body as JSON"),
    (json.dumps([{"query": "{ __typename }"}, {"query": "{ __typename }"}]), "Batching is not enabled"),
    (json.dumps({"variables": {}}), "No GraphQL query found"),
])
def test_a_request_that_cannot_run_is_a_400_with_a_graphql_error(client, api_key, body, words):
    response = post(client, api_key, body)
    assert response.status_code == 400
    error = only_error(response)
    assert words in error["message"] and error["extensions"] == {"code": "BAD_REQUEST"}


def test_an_oversized_body_is_a_413_with_a_graphql_error(client, api_key, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = post(client, api_key, json.dumps({"query": "{ __typename }", "variables": {"x": "y" * 200}}))
    assert response.status_code == 413
    assert only_error(response)["extensions"] == {"code": "PAYLOAD_TOO_LARGE"}


def test_an_unsupported_media_type_is_a_400_with_a_graphql_error(client, api_key):
    response = post(client, api_key, "query", content_type="text/csv")
    assert response.status_code == 400
    assert only_error(response) == {"message": "Unsupported content type", "extensions": {"code": "BAD_REQUEST"}}


def test_a_rate_limited_request_is_a_429_with_rate_limited_and_retry_after(client, api_key, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "manage": {"minute": 1, "hour": 100}}
    assert post(client, api_key, json.dumps({"query": "{ __typename }"})).status_code == 200
    response = post(client, api_key, json.dumps({"query": "{ __typename }"}))
    assert response.status_code == 429
    error = only_error(response)
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] == int(response["Retry-After"]) > 0
    assert "Rate limit exceeded" in error["message"]

