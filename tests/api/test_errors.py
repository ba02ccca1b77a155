"""Every error answers {"detail", "status_code"} (400s add "errors"), whatever raised it."""

import pytest
from django.test import Client

from apikeys_app.services import api_key_revoke
from templates_app import selectors

pytestmark = pytest.mark.django_db


def assert_error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status_code"] == status_code and isinstance(body["detail"], str) and body["detail"]
    assert set(body) <= {"detail", "status_code", "errors"}
    return body


def test_missing_key_is_401_with_the_challenge(anonymous):
    response = anonymous.get("/api/v1/templates/")
    body = assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Api-Key"
    assert body["detail"].startswith("Missing API key")


@pytest.mark.parametrize("header", ["Bearer abc", "Api-Key wrong.key", "Api-Key "])
def test_malformed_or_unknown_keys_are_401(anonymous, header):
    response = anonymous.get("/api/v1/notifications/", HTTP_AUTHORIZATION=header)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Api-Key"


def test_a_revoked_key_is_401_from_the_next_request(api):
    assert api.get("/api/v1/templates/").status_code == 200
    api_key_revoke(key=api.key)
    assert "revoked" in assert_error(api.get("/api/v1/templates/"), 401)["detail"]


@pytest.mark.parametrize("scopes, method, path, body", [
    (("read",), "post", "/api/v1/notifications/", {}),
    (("read",), "post", "/api/v1/notifications/bulk/", {}),
    (("send",), "get", "/api/v1/notifications/", None),
    (("send", "read"), "post", "/api/v1/templates/", {}),
    (("read",), "patch", "/api/v1/preferences/5/", {}),
    (("manage",), "get", "/api/v1/preferences/5/", None),
])
def test_a_key_without_the_scope_is_403(make_client, scopes, method, path, body):
    client = make_client(*scopes)
    response = getattr(client, method)(path, body, format="json") if body is not None else client.get(path)
    assert "scope" in assert_error(response, 403)["detail"]


def test_each_scope_opens_its_operations(make_client, template):
    assert make_client("read").get("/api/v1/templates/").status_code == 200
    assert make_client("manage").patch(f"/api/v1/templates/{template.pk}/", {}, format="json").status_code == 200
    sent = make_client("send").post("/api/v1/notifications/", {"user_id": 1, "template_name": "nope"}, format="json")
    assert sent.status_code == 400  # past auth and scope: the service refused the template


def test_unknown_path_under_api_is_404_in_the_api_shape(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404)


def test_unknown_path_elsewhere_keeps_djangos_page():
    response = Client().get("/nothing-here/")
    assert response.status_code == 404 and "application/json" not in response["Content-Type"]


def test_wrong_method_is_405(api):
    assert_error(api.delete("/api/v1/notifications/"), 405)


def test_malformed_json_is_400(api):
    response = api.post("/api/v1/templates/", "{not json", content_type="application/json")
    assert "JSON parse error" in assert_error(response, 400)["detail"]


def test_a_body_that_is_not_an_object_is_400(api):
    response = api.post("/api/v1/templates/", "[1, 2]", content_type="application/json")
    assert_error(response, 400)


def test_a_form_body_is_415(api):
    assert_error(api.post("/api/v1/templates/", "name=x", content_type="application/x-www-form-urlencoded"), 415)


def test_a_body_over_the_limit_is_413(api, settings):
    settings.API_MAX_BODY_BYTES = 100
    response = api.post("/api/v1/templates/", {"name": "x", "type": "sms", "body": "y" * 200}, format="json")
    assert "100 bytes" in assert_error(response, 413)["detail"]


def test_validation_errors_list_messages_per_field(api):
    response = api.post("/api/v1/templates/", {"type": "fax", "extra": 1}, format="json")
    body = assert_error(response, 400)
    assert set(body["errors"]) == {"extra"}
    response = api.post("/api/v1/templates/", {"type": "fax"}, format="json")
    body = assert_error(response, 400)
    assert set(body["errors"]) == {"name", "type", "body"}
    assert all(isinstance(messages, list) and messages for messages in body["errors"].values())
    assert body["detail"].startswith("name: ")


def test_null_characters_in_json_values_are_400_not_a_database_error(api):
    response = api.post("/api/v1/templates/", {"name": "n", "type": "sms", "body": "x", "variables": {"a": "\x00"}},
                        format="json")
    assert "variables" in assert_error(response, 400)["errors"]


def test_an_unexpected_exception_is_500_in_the_api_shape(api, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "template_list", explode)
    api.raise_request_exception = False
    body = assert_error(api.get("/api/v1/templates/"), 500)
    assert "boom" not in body["detail"]


@pytest.mark.parametrize("path", ["/api/v1/templates/", "/api/v1/notifications/", "/graphql/"])
def test_json_nested_past_the_recursion_limit_is_400(api, path):
    body = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.content.decode()


@pytest.mark.parametrize("accept, status, content_type", [
    (None, 200, "application/json"),
    ("*/*", 200, "application/json"),
    ("application/json", 200, "application/json"),
    ("application/*", 200, "application/json"),
    ("text/html, application/json;q=0.5", 200, "application/json"),
    ("text/html", 406, "application/json"),
])
def test_answers_are_json_whatever_accept_allows_and_406_otherwise(api, accept, status, content_type):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api.get("/api/v1/templates/", **headers)
    assert response.status_code == status
    assert response["Content-Type"] == content_type


def test_an_accept_header_that_allows_no_json_gets_a_406_the_schema_documents(api):
    """`Accept: *` (no subtype) matches no media type, on any operation (schemathesis found one undocumented)."""
    response = api.delete("/api/v1/templates/999/", HTTP_ACCEPT="*")
    assert response.status_code == 406
    assert response.json()["status_code"] == 406
    schema = api.get("/api/schema/?format=json").json()
    assert all("406" in operation["responses"] for operations in schema["paths"].values()
               for operation in operations.values())


def test_a_format_other_than_json_is_404(api):
    assert api.get("/api/v1/templates/?format=xml").status_code == 404
