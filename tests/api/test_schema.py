"""The OpenAPI schema and Swagger UI, and a property-based run of our own schema that finds no 500."""

import json

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.schemas import OpenApiSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import factories

pytestmark = pytest.mark.django_db


def test_the_schema_needs_no_key_and_describes_the_api(anonymous):
    response = anonymous.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKey"]["description"]}
    send = schema["paths"]["/api/v1/notifications/"]["post"]
    assert {"202", "200", "400", "401", "403", "413", "415", "429"} <= set(send["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in send["parameters"])
    listing = schema["paths"]["/api/v1/templates/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schema["components"]["schemas"][listing["schema"]["$ref"].rsplit("/", 1)[1]]
    assert list(page["properties"]) == ["items", "total", "page", "size", "pages"]
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {"detail", "status_code", "errors"}
    assert "X-RateLimit-Remaining-Minute" in send["responses"]["202"]["headers"]


def test_no_patch_body_carries_defaults(anonymous):
    """A generated client sends a body's defaults; in a PATCH they would overwrite what it did not name."""
    components = anonymous.get("/api/schema/?format=json").json()["components"]["schemas"]
    patched = {name: component for name, component in components.items() if name.startswith("Patched")}
    assert {"PatchedPreferenceInputRequest", "PatchedTemplateInputRequest"} <= set(patched)
    assert {name: [field for field, schema in component["properties"].items() if '"default"' in json.dumps(schema)]
            for name, component in patched.items()} == {name: [] for name in patched}  # nor in a oneOf's branch


def test_descriptions_address_clients_not_maintainers(anonymous):
    """A body's description is its own serializer's text, never a base class's notes on how it works."""
    schema = anonymous.get("/api/schema/?format=json").json()
    bodies = {name: component.get("description", "") for name, component in schema["components"]["schemas"].items()}
    assert not {name: text for name, text in bodies.items() if "DRF" in text or "copy" in text}
    assert bodies["SendInputRequest"] == "" and bodies["TemplateInputRequest"].startswith("A whole template")


def test_log_and_message_ids_are_64_bit_in_the_schema(anonymous):
    """A client generated from a plain `integer` may keep it in 32 bits (openapi-generator's Java does)."""
    components = anonymous.get("/api/schema/?format=json").json()["components"]["schemas"]
    ids = {"LogOutput": components["LogOutput"]["properties"]["id"],
           "FeedMessageOutput": components["FeedMessageOutput"]["properties"]["id"],
           "changed_ids": components["MarkManyOutput"]["properties"]["changed_ids"]["items"]}
    assert {name: schema.get("format") for name, schema in ids.items()} == dict.fromkeys(ids, "int64")


def test_the_schema_states_what_the_server_refuses(anonymous):
    schema = anonymous.get("/api/schema/?format=json").json()
    paths, components = schema["paths"], schema["components"]["schemas"]
    user_id = next(p for p in paths["/api/v1/preferences/{user_id}/"]["get"]["parameters"] if p["name"] == "user_id")
    assert (user_id["schema"]["minimum"], user_id["schema"]["maximum"]) == (1, 2**31 - 1)
    template_id = next(p for p in paths["/api/v1/templates/{template_id}/"]["get"]["parameters"]
                       if p["name"] == "template_id")
    assert template_id["schema"]["minimum"] == 1
    context = components["SendInputRequest"]["properties"]["context"]
    assert context["type"] == "object" and not context.get("nullable")
    search = next(p for p in paths["/api/v1/templates/"]["get"]["parameters"] if p["name"] == "search")
    assert search["schema"]["pattern"] == "^[^\\u0000]*$"
    quiet = components["PreferenceOutput"]["properties"]["quiet_hours_start"]
    assert quiet["pattern"] == "^([01][0-9]|2[0-3]):[0-5][0-9]$" and "format" not in quiet
    assert components["PreferenceInputRequest"]["properties"]["quiet_hours_start"]["pattern"] == quiet["pattern"]
    for path in ("/api/v1/notifications/", "/api/v1/notifications/bulk/"):
        assert "503" in paths[path]["post"]["responses"]


def test_every_operation_taking_an_idempotency_key_lists_its_422(anonymous):
    paths = anonymous.get("/api/schema/?format=json").json()["paths"]
    keyed = {operation["operationId"]: operation["responses"] for methods in paths.values()
             for operation in methods.values()
             if any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", []))}
    assert set(keyed) == {"notifications_send", "notifications_send_bulk", "triggers_create"}
    assert {name: "422" in responses for name, responses in keyed.items()} == dict.fromkeys(keyed, True)


def test_swagger_ui_needs_no_key(anonymous):
    response = anonymous.get("/api/docs/")
    assert response.status_code == 200 and b"swagger" in response.content.lower()


def test_swagger_ui_assets_are_served_by_us_not_a_cdn(anonymous):
    page = anonymous.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page


def _our_schema() -> OpenApiSchema:
    """The schema /api/schema/ serves, generated in process: no request can be made while tests are collected."""
    raw = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    loaded = schemathesis.openapi.from_dict(raw)
    loaded.app = get_wsgi_application()
    return loaded


@pytest.fixture
def real_app(db, settings):
    """Requests through the real WSGI app, as Django's test client makes them: the test's database
    connection stays open between requests; rate limits are off, since hundreds of generated requests
    would hit them (they have tests of their own)."""
    settings.RATELIMIT_ENABLE = False
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]  # the host schemathesis's WSGI client sends
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def secret(db) -> str:
    factories.NotificationTemplateFactory(name="welcome")
    factories.UserPreferenceFactory(user_id=1)
    return factories.api_key(name="schemathesis")[1]


schema = _our_schema()


@schema.parametrize()
# Ten cases an operation here; CI's live run (.ci/run) makes thirty an operation with every check, REST and GraphQL.
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_generated_requests_never_cause_a_server_error(case, real_app, secret):
    response = case.call(headers={"Authorization": f"Api-Key {secret}"})
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                              content_type_conformance, response_schema_conformance])
