import pytest
from rest_framework.test import APIClient

from kinds_app.models import Category, NotificationKind
from templates_app.models import NotificationType
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def templates() -> dict[str, int]:
    return {
        "email": factories.NotificationTemplateFactory(name="shipped_email").id,
        "sms": factories.NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None).id,
        "push": factories.NotificationTemplateFactory(name="shipped_push", type="push", subject=None).id,
    }


def kind_body(templates: dict[str, int], **overrides) -> dict:
    return {"key": "order_shipped", "name": "Order shipped", "category": "transactional", "templates": templates,
            **overrides}


def test_create_answers_201_with_the_kind_and_its_channel_templates(api, templates):
    response = api.post("/api/v1/kinds/", kind_body(templates, critical=True), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "key", "name", "description", "category", "critical", "templates", "created_at",
                         "updated_at"}
    assert (body["key"], body["category"], body["critical"]) == ("order_shipped", "transactional", True)
    assert body["templates"] == {
        "email": {"id": templates["email"], "name": "shipped_email", "version": 1},
        "sms": {"id": templates["sms"], "name": "shipped_sms", "version": 1},
        "push": {"id": templates["push"], "name": "shipped_push", "version": 1},
        "in_app": None,
    }


def test_a_channel_left_out_answers_null(api, templates):
    response = api.post("/api/v1/kinds/", kind_body({"email": templates["email"]}), format="json")
    assert response.status_code == 201
    assert response.json()["templates"]["sms"] is None and response.json()["templates"]["push"] is None


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"key": "Order Shipped"}, "key", "Not a valid key"),
    ({"category": "nope"}, "category", "No category with the key 'nope'."),
    ({"templates": {"email": 999999}}, "templates.email", "No template with the id 999999."),
    ({"templates": {"fax": 1}}, "templates.fax", "Unknown field."),
    ({"templates": {}}, "templates", "A kind needs a template for at least one channel."),
    ({"templates": "email"}, "templates.non_field_errors", "Invalid data"),
    ({"colour": "red"}, "colour", "Unknown field."),
])
def test_create_refuses_bad_input_naming_the_field(api, templates, change, field, message):
    response = api.post("/api/v1/kinds/", {**kind_body(templates), **change}, format="json")
    assert response.status_code == 400, response.json()
    assert message in " ".join(response.json()["errors"][field])
    assert not NotificationKind.objects.exists()


def test_a_kind_gets_an_in_app_template_and_its_trigger_reaches_the_users_feed(
        api, templates, django_capture_on_commit_callbacks):
    in_app = factories.NotificationTemplateFactory(name="shipped_in_app", type="in_app", subject="Order {{ code }}",
                                                   body="It is **on its way**.")
    response = api.post("/api/v1/kinds/", kind_body({**templates, "in_app": in_app.id}), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["templates"]["in_app"] == {"id": in_app.id, "name": "shipped_in_app", "version": 1}

    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("/api/v1/triggers/", {"kind": "order_shipped", "user_ids": [1001],
                                                "context": {"code": "1042", "first_name": "Ada"}}, format="json")
    assert answer.status_code == 202, answer.json()
    (outcome,) = answer.json()["outcomes"]
    assert {c["channel"]: c["status"] for c in outcome["channels"]}["in_app"] == "pending"
    token = api.post("/api/v1/users/1001/feed-token/").json()["token"]
    browser = APIClient()
    browser.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    feed = browser.get("/api/v1/feed/").json()
    assert [(item["title"], item["kind"]) for item in feed["items"]] == [("Order 1042", "order_shipped")]
    assert feed["unread_count"] == 1

    # PATCH takes the in-app template away again, and refuses a template of another channel for it.
    kind_id = response.json()["id"]
    response = api.patch(f"/api/v1/kinds/{kind_id}/", {"templates": {**templates, "in_app": templates["push"]}},
                         format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"templates.in_app": ["Template 'shipped_push' is a push template, not in_app."]}
    response = api.patch(f"/api/v1/kinds/{kind_id}/", {"templates": {**templates, "in_app": None}}, format="json")
    assert response.status_code == 200 and response.json()["templates"]["in_app"] is None


def test_the_schema_names_every_channel_in_a_kinds_templates(api):
    schemas = api.get("/api/schema/?format=json").json()["components"]["schemas"]
    for name in ("KindTemplatesInputRequest", "KindTemplatesOutput"):
        assert set(schemas[name]["properties"]) == set(NotificationType.values), name


def test_a_template_of_another_channel_is_refused(api, templates):
    response = api.post("/api/v1/kinds/", kind_body({"email": templates["sms"]}), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"templates.email": ["Template 'shipped_sms' is a sms template, not email."]}


def test_list_filters_by_category_and_searches(api):
    factories.NotificationKindFactory(key="order_shipped")
    factories.NotificationKindFactory(key="spring_sale", category=Category.objects.get(key="marketing"))
    keys = lambda response: [item["key"] for item in response.json()["items"]]  # noqa: E731
    assert keys(api.get("/api/v1/kinds/")) == ["order_shipped", "spring_sale"]
    assert keys(api.get("/api/v1/kinds/?category=marketing")) == ["spring_sale"]
    assert keys(api.get("/api/v1/kinds/?search=ORDER")) == ["order_shipped"]


def test_patch_changes_only_what_it_names(api, templates):
    kind = factories.NotificationKindFactory(key="order_shipped")
    response = api.patch(f"/api/v1/kinds/{kind.id}/", {"templates": {"sms": templates["sms"]}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["key"] == "order_shipped" and body["templates"]["email"] is None
    assert body["templates"]["sms"]["name"] == "shipped_sms"


def test_put_replaces_and_delete_removes(api, templates):
    kind = factories.NotificationKindFactory(key="order_shipped", critical=True)
    response = api.put(f"/api/v1/kinds/{kind.id}/", kind_body(templates, key="order_sent"), format="json")
    assert response.status_code == 200
    assert (response.json()["key"], response.json()["critical"]) == ("order_sent", False)
    assert api.delete(f"/api/v1/kinds/{kind.id}/").status_code == 204
    assert api.get(f"/api/v1/kinds/{kind.id}/").status_code == 404


def test_writes_need_the_manage_scope_and_reads_the_read_scope(make_client, templates):
    reader = make_client("read")
    assert reader.get("/api/v1/kinds/").status_code == 200
    assert reader.get("/api/v1/categories/").status_code == 200
    response = reader.post("/api/v1/kinds/", kind_body(templates), format="json")
    assert response.status_code == 403 and "manage" in response.json()["detail"]
    assert make_client("send").get("/api/v1/kinds/").status_code == 403


def test_categories_crud(api):
    response = api.post("/api/v1/categories/", {"key": "digest", "name": "Digest", "enabled_by_default": False},
                        format="json")
    assert response.status_code == 201, response.json()
    category = response.json()
    assert (category["key"], category["enabled_by_default"], category["description"]) == ("digest", False, "")
    assert api.patch(f"/api/v1/categories/{category['id']}/", {"name": "Weekly"}, format="json").json()["name"] == "Weekly"
    listed = [item["key"] for item in api.get("/api/v1/categories/?search=dig").json()["items"]]
    assert listed == ["digest"]
    assert api.delete(f"/api/v1/categories/{category['id']}/").status_code == 204


def test_a_category_in_use_is_not_deleted(api):
    factories.NotificationKindFactory(key="order_shipped")
    category = Category.objects.get(key="transactional")
    response = api.delete(f"/api/v1/categories/{category.id}/")
    assert response.status_code == 400
    assert "order_shipped" in response.json()["errors"]["category"][0]
    assert Category.objects.filter(pk=category.pk).exists()


def test_a_taken_category_key_is_refused(api):
    response = api.post("/api/v1/categories/", {"key": "marketing", "name": "Again"}, format="json")
    assert response.status_code == 400 and "key" in response.json()["errors"]


def test_nul_in_a_name_is_a_field_error(api):
    response = api.post("/api/v1/categories/", {"key": "digest", "name": "Di\x00gest"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]


@pytest.mark.parametrize("value", [0, 1, "true", "yes", None])
def test_flags_take_only_json_booleans(api, templates, value):
    response = api.post("/api/v1/kinds/", kind_body(templates, critical=value), format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["critical"]
    response = api.post("/api/v1/categories/", {"key": "digest", "name": "D", "enabled_by_default": value},
                        format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["enabled_by_default"]
