import json

import pytest

from templates_app.models import NotificationTemplate
from tests import factories

pytestmark = pytest.mark.django_db

EMAIL = {"name": "welcome", "type": "email", "subject": "Hi {{ name }}", "body": "Welcome, {{ name }}!"}


def test_create_answers_201_with_the_template_and_version_1(api):
    response = api.post("/api/v1/templates/", EMAIL, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "welcome" and body["type"] == "email" and body["version"] == 1
    assert body["variables"] == {"name": None}
    assert set(body) == {"id", "name", "type", "subject", "body", "html_body", "variables", "version",
                         "created_at", "updated_at"}
    assert NotificationTemplate.objects.get(pk=body["id"]).versions.count() == 1


def test_example_values_may_nest_as_deep_as_a_send_context(api):
    def nested(levels: int) -> dict:  # the variables object itself is the first level
        return {"name": json.loads("[" * (levels - 1) + "]" * (levels - 1))}

    assert api.post("/api/v1/templates/", {**EMAIL, "variables": nested(32)}, format="json").status_code == 201
    response = api.post("/api/v1/templates/", {**EMAIL, "name": "deeper", "variables": nested(33)}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"variables": ["Is nested more than 32 levels deep."]}


def test_create_refuses_a_taken_name_naming_the_field(api, template):
    response = api.post("/api/v1/templates/", {**EMAIL, "name": template.name}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]


def test_create_refuses_template_rule_violations_from_the_service(api):
    response = api.post("/api/v1/templates/", {**EMAIL, "subject": ""}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"subject": ["Email templates need a subject."]}


def test_create_refuses_a_template_syntax_error(api):
    response = api.post("/api/v1/templates/", {**EMAIL, "body": "Hi {{ name "}, format="json")
    assert response.status_code == 400 and "body" in response.json()["errors"]


def test_list_filters_by_type_and_searches_by_name(api):
    factories.NotificationTemplateFactory(name="order_shipped")
    factories.NotificationTemplateFactory(name="order_sms", type="sms", subject=None)
    factories.NotificationTemplateFactory(name="password_reset")
    names = lambda response: [item["name"] for item in response.json()["items"]]  # noqa: E731
    assert names(api.get("/api/v1/templates/?search=ORDER")) == ["order_shipped", "order_sms"]
    assert names(api.get("/api/v1/templates/?type=sms")) == ["order_sms"]
    assert names(api.get("/api/v1/templates/?type=email&search=order")) == ["order_shipped"]


def test_list_refuses_an_unknown_type(api):
    response = api.get("/api/v1/templates/?type=fax")
    assert response.status_code == 400 and "type" in response.json()["errors"]


def test_retrieve_and_404_in_the_seed_shape(api, template):
    assert api.get(f"/api/v1/templates/{template.pk}/").json()["name"] == template.name
    response = api.get("/api/v1/templates/999999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Notification template not found.", "status_code": 404}


def test_patch_changes_the_text_and_adds_a_version(api, template):
    response = api.patch(f"/api/v1/templates/{template.pk}/", {"body": "Hi {{ first_name }}, code {{ code }}!"},
                         format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    versions = api.get(f"/api/v1/templates/{template.pk}/versions/").json()
    assert [v["version"] for v in versions["items"]] == [2, 1] and versions["total"] == 2
    assert versions["items"][0]["created_by"] == f"api:{api.key.prefix}"


def test_patch_of_the_name_only_keeps_the_version(api, template):
    response = api.patch(f"/api/v1/templates/{template.pk}/", {"name": "renamed"}, format="json")
    assert response.status_code == 200 and response.json()["name"] == "renamed"
    assert response.json()["version"] == 1


def test_put_replaces_the_whole_template(api, template):
    response = api.put(f"/api/v1/templates/{template.pk}/",
                       {"name": "sms_code", "type": "sms", "body": "Code {{ code }}"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["type"] == "sms" and body["subject"] is None and body["variables"] == {"code": None}


def test_put_needs_the_required_fields(api, template):
    response = api.put(f"/api/v1/templates/{template.pk}/", {"name": "x"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"type", "body"}


def test_delete_answers_204_then_404(api, template):
    assert api.delete(f"/api/v1/templates/{template.pk}/").status_code == 204
    assert api.get(f"/api/v1/templates/{template.pk}/").status_code == 404


def test_versions_of_an_unknown_template_are_404(api):
    assert api.get("/api/v1/templates/424242/versions/").status_code == 404


def test_a_number_for_the_subject_is_refused_not_saved_as_text(api, template):
    response = api.patch(f"/api/v1/templates/{template.pk}/", {"subject": 0}, format="json")
    assert response.status_code == 400 and response.json()["errors"] == {"subject": ["Not a valid string."]}
    template.refresh_from_db()
    assert template.subject == "Hello {{ first_name }}"


@pytest.mark.parametrize("query", ["type=", "search=a%00b", "page="])
def test_a_query_the_schema_does_not_allow_is_400(api, query):
    response = api.get(f"/api/v1/templates/?{query}")
    assert response.status_code == 400, response.json()
    assert query.split("=")[0] in response.json()["errors"]
