"""REST: /api/v1/webhooks/endpoints/ (webhooks_app/api.py), each API key seeing only its own endpoints."""

import pytest

URL = "https://93.184.215.14/hooks"
ENDPOINTS = "/api/v1/webhooks/endpoints/"


@pytest.fixture(autouse=True)
def _production(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


def test_create_shows_the_secret_once_then_never(api):
    response = api.post(ENDPOINTS, {"url": URL, "event_types": ["notification.sent"]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["event_types"] == ["notification.sent"] and body["enabled"] is True
    one = api.get(f"{ENDPOINTS}{body['id']}/").json()
    assert "secret" not in one and one["url"] == URL
    listed = api.get(ENDPOINTS).json()
    assert listed["total"] == 1 and "secret" not in listed["items"][0]


def test_another_key_neither_sees_nor_touches_an_endpoint(api, make_client):
    endpoint_id = api.post(ENDPOINTS, {"url": URL}, format="json").json()["id"]
    other = make_client(name="other")
    assert other.get(ENDPOINTS).json()["total"] == 0
    for response in (other.get(f"{ENDPOINTS}{endpoint_id}/"),
                     other.patch(f"{ENDPOINTS}{endpoint_id}/", {"enabled": False}, format="json"),
                     other.delete(f"{ENDPOINTS}{endpoint_id}/"),
                     other.post(f"{ENDPOINTS}{endpoint_id}/rotate-secret/", {}, format="json")):
        assert response.status_code == 404
        assert response.json() == {"detail": "Webhook endpoint not found.", "status_code": 404}


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "https://127.0.0.1/x"}, "url"),
    ({"url": "https://10.0.0.5/x"}, "url"),
    ({"url": "https://169.254.169.254/latest/meta-data/"}, "url"),
    ({"url": "https://localhost:8443/x"}, "url"),
    ({"url": "http://93.184.215.14/x"}, "url"),
    ({"url": "nonsense"}, "url"),
    ({}, "url"),
    ({"url": URL, "event_types": ["notification.nope"]}, "event_types.0"),
    ({"url": URL, "colour": "red"}, "colour"),
])
def test_bad_input_is_a_400_naming_the_field(api, body, field):
    response = api.post(ENDPOINTS, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_private_addresses_are_accepted_when_allowed(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    settings.WEBHOOK_ALLOW_HTTP = True
    assert api.post(ENDPOINTS, {"url": "http://127.0.0.1:9/x"}, format="json").status_code == 201


def test_patch_rotate_and_delete(api):
    created = api.post(ENDPOINTS, {"url": URL}, format="json").json()
    url = f"{ENDPOINTS}{created['id']}/"
    changed = api.patch(url, {"enabled": False, "description": "paused"}, format="json")
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert changed.json()["description"] == "paused" and changed.json()["url"] == URL
    rotated = api.post(f"{url}rotate-secret/", {"overlap_seconds": 60}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"] and rotated.json()["previous_secret_expires_at"]
    assert api.post(f"{url}rotate-secret/", {"overlap_seconds": -5}, format="json").status_code == 400
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


@pytest.mark.parametrize("scopes", [("send",), ("read",), ("send", "read")])
def test_endpoints_need_the_manage_scope(make_client, scopes):
    client = make_client(*scopes)
    assert client.get(ENDPOINTS).status_code == 403
    assert client.post(ENDPOINTS, {"url": URL}, format="json").status_code == 403
