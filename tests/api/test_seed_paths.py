"""The seed's paths without the trailing slash answer as the slashed ones do, for every method, in their group."""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    settings.RATELIMIT_RATES = {"send": {"minute": 7, "hour": 700}, "read": {"minute": 8, "hour": 800},
                                "manage": {"minute": 9, "hour": 900}}


def test_a_send_to_the_slashless_path_is_accepted_and_counts_as_a_send(api, rates, preference, template):
    response = api.post("/api/v1/notifications", {"user_id": 1001, "template_name": template.name,
                                                  "context": {"first_name": "Ada", "code": "1"}}, format="json")
    assert response.status_code == 202, response.content
    assert response["X-RateLimit-Limit-Minute"] == "7"


@pytest.mark.parametrize("method, path, body, status, limit", [
    ("get", "/api/v1/notifications", None, 200, "8"),
    ("get", "/api/v1/templates", None, 200, "8"),
    ("post", "/api/v1/templates", {"name": "new_one", "type": "sms", "body": "Hi"}, 201, "9"),
    ("get", "/api/v1/preferences/1001", None, 200, "8"),
    ("put", "/api/v1/preferences/1001", {"sms_enabled": False}, 200, "9"),
    ("patch", "/api/v1/preferences/1001", {"sms_enabled": False}, 200, "9"),
    ("post", "/api/v1/notifications/bulk", {"user_ids": [1001], "template_name": "none"}, 400, "7"),
])
def test_every_method_answers_on_the_slashless_path(api, rates, method, path, body, status, limit):
    response = getattr(api, method)(path, body, format="json")
    assert response.status_code == status, response.content
    assert response["X-RateLimit-Limit-Minute"] == limit


def test_a_template_is_read_changed_and_deleted_without_the_slash(api, rates):
    template = factories.NotificationTemplateFactory()
    assert api.get(f"/api/v1/templates/{template.pk}").json()["name"] == template.name
    assert api.patch(f"/api/v1/templates/{template.pk}", {"subject": "New"}, format="json").json()["subject"] == "New"
    assert api.delete(f"/api/v1/templates/{template.pk}").status_code == 204


def test_graphql_answers_a_post_on_the_slashless_path(client, rates):
    _, secret = factories.api_key("graphql-client")
    response = client.post("/graphql", {"query": "{ notificationTemplates { pagination { total } } }"},
                           content_type="application/json", headers={"Authorization": f"Api-Key {secret}"})
    assert response.status_code == 200, response.content
    assert response.json() == {"data": {"notificationTemplates": {"pagination": {"total": 0}}}}
    assert response["X-RateLimit-Limit-Minute"] == "9"


def test_an_unknown_path_is_still_a_json_404(api):
    response = api.get("/api/v1/nothing")
    assert response.status_code == 404 and response.json()["status_code"] == 404
