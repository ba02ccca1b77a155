"""GraphQL: webhook endpoint queries and mutations (webhooks_app/schema.py), with the REST door's rules."""

import pytest

from tests import factories
from tests.graphql.conftest import error_codes

CREATE = """
mutation($input: WebhookEndpointCreateInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url eventTypes enabled includeBody } }
}
"""
LIST = "{ webhookEndpoints { items { id url eventTypes } pagination { total } } }"
UPDATE = """
mutation($id: Int!, $input: WebhookEndpointUpdateInput!) {
  updateWebhookEndpoint(id: $id, input: $input) { id enabled eventTypes }
}
"""
ROTATE = """
mutation($id: Int!) { rotateWebhookEndpointSecret(id: $id, overlapSeconds: 30) { secret endpoint { previousSecretExpiresAt } } }
"""
DELETE = "mutation($id: Int!) { deleteWebhookEndpoint(id: $id) }"

URL = "https://93.184.215.14/hooks"


@pytest.fixture(autouse=True)
def _production(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


def test_endpoint_lifecycle(gql):
    created = gql(CREATE, {"input": {"url": URL, "eventTypes": ["SENT", "DELIVERED"]}})["data"]
    created = created["createWebhookEndpoint"]
    assert created["secret"].startswith("whsec_")
    assert created["endpoint"]["eventTypes"] == ["SENT", "DELIVERED"] and created["endpoint"]["enabled"]
    endpoint_id = created["endpoint"]["id"]
    assert gql(LIST)["data"]["webhookEndpoints"]["pagination"]["total"] == 1
    updated = gql(UPDATE, {"id": endpoint_id, "input": {"enabled": False, "eventTypes": []}})
    assert updated["data"]["updateWebhookEndpoint"] == {"id": endpoint_id, "enabled": False, "eventTypes": []}
    rotated = gql(ROTATE, {"id": endpoint_id})["data"]["rotateWebhookEndpointSecret"]
    assert rotated["secret"] != created["secret"] and rotated["endpoint"]["previousSecretExpiresAt"]
    assert gql(DELETE, {"id": endpoint_id})["data"]["deleteWebhookEndpoint"] is True
    assert gql(DELETE, {"id": endpoint_id})["data"]["deleteWebhookEndpoint"] is False


def test_a_private_url_is_bad_user_input_naming_url(gql):
    answer = gql(CREATE, {"input": {"url": "https://169.254.169.254/latest"}})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert "url" in answer["errors"][0]["extensions"]["fieldErrors"]


def test_another_key_sees_nothing(gql):
    endpoint_id = gql(CREATE, {"input": {"url": URL}})["data"]["createWebhookEndpoint"]["endpoint"]["id"]
    other = factories.api_key("other")[1]
    assert gql(LIST, key=other)["data"]["webhookEndpoints"]["pagination"]["total"] == 0
    assert gql(UPDATE, {"id": endpoint_id, "input": {"enabled": False}}, key=other)["data"] == {
        "updateWebhookEndpoint": None}


def test_needs_the_manage_scope(gql):
    reader = factories.api_key("reader", scopes=["read", "send"])[1]
    assert error_codes(gql(LIST, key=reader)) == ["FORBIDDEN"]
    assert error_codes(gql(CREATE, {"input": {"url": URL}}, key=reader)) == ["FORBIDDEN"]
