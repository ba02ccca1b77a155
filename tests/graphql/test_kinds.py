import pytest

from kinds_app.models import Category, NotificationKind
from tests import factories
from tests.graphql.conftest import error_codes

pytestmark = pytest.mark.django_db

KIND_FIELDS = "id key name critical category { key enabledByDefault } templates { channel template { name version } }"


def test_create_a_kind_with_a_template_per_channel(gql):
    email = factories.NotificationTemplateFactory(name="shipped_email")
    push = factories.NotificationTemplateFactory(name="shipped_push", type="push", subject=None)
    answer = gql(
        "mutation($input: NotificationKindCreateInput!) { createNotificationKind(input: $input) { %s } }" % KIND_FIELDS,
        {"input": {"key": "order_shipped", "name": "Order shipped", "category": "transactional", "critical": True,
                   "templates": [{"channel": "EMAIL", "templateId": email.id},
                                 {"channel": "PUSH", "templateId": push.id}]}})
    assert "errors" not in answer, answer
    kind = answer["data"]["createNotificationKind"]
    assert (kind["key"], kind["critical"], kind["category"]) == (
        "order_shipped", True, {"key": "transactional", "enabledByDefault": True})
    assert kind["templates"] == [{"channel": "EMAIL", "template": {"name": "shipped_email", "version": 1}},
                                 {"channel": "PUSH", "template": {"name": "shipped_push", "version": 1}}]


def test_bad_input_is_bad_user_input_naming_the_field(gql):
    sms = factories.NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None)
    answer = gql(
        "mutation($input: NotificationKindCreateInput!) { createNotificationKind(input: $input) { id } }",
        {"input": {"key": "order_shipped", "name": "x", "category": "nope",
                   "templates": [{"channel": "EMAIL", "templateId": sms.id}]}})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert set(answer["errors"][0]["extensions"]["fieldErrors"]) == {"category", "templates.email"}
    assert not NotificationKind.objects.exists()


def test_a_channel_named_twice_is_refused(gql):
    sms = factories.NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None)
    answer = gql(
        "mutation($input: NotificationKindCreateInput!) { createNotificationKind(input: $input) { id } }",
        {"input": {"key": "order_shipped", "name": "x", "category": "product",
                   "templates": [{"channel": "SMS", "templateId": sms.id}, {"channel": "SMS", "templateId": sms.id}]}})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {"templates": ["The sms channel is named more than once."]}


def test_list_read_and_update_kinds(gql):
    kind = factories.NotificationKindFactory(key="order_shipped")
    factories.NotificationKindFactory(key="spring_sale", category=Category.objects.get(key="marketing"))
    answer = gql('{ notificationKinds(category: "marketing") { items { key } pagination { total } } }')
    assert answer["data"]["notificationKinds"] == {"items": [{"key": "spring_sale"}], "pagination": {"total": 1}}
    answer = gql('{ notificationKind(key: "order_shipped") { %s } }' % KIND_FIELDS)
    assert [entry["channel"] for entry in answer["data"]["notificationKind"]["templates"]] == ["EMAIL", "PUSH", "SMS"]
    answer = gql("mutation($id: Int!) { updateNotificationKind(id: $id, input: {critical: true, category: \"security\"})"
                 " { critical category { key } } }", {"id": kind.id})
    assert answer["data"]["updateNotificationKind"] == {"critical": True, "category": {"key": "security"}}
    assert gql("{ notificationKind(id: 999999) { id } }")["data"]["notificationKind"] is None
    answer = gql("mutation($id: Int!) { updateNotificationKind(id: $id, input: {key: null}) { key } }", {"id": kind.id})
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {"key": ["May not be null; omit it to keep its value."]}


def test_delete_kind_and_category(gql):
    kind = factories.NotificationKindFactory(key="order_shipped")
    category = Category.objects.get(key="transactional")
    answer = gql("mutation($id: Int!) { deleteNotificationCategory(id: $id) }", {"id": category.id})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert gql("mutation($id: Int!) { deleteNotificationKind(id: $id) }", {"id": kind.id})["data"] == {
        "deleteNotificationKind": True}
    assert gql("mutation($id: Int!) { deleteNotificationCategory(id: $id) }", {"id": category.id})["data"] == {
        "deleteNotificationCategory": True}
    assert gql("mutation { deleteNotificationKind(id: 999999) }")["data"] == {"deleteNotificationKind": False}


def test_categories_create_update_list(gql):
    answer = gql('mutation { createNotificationCategory(input: {key: "digest", name: "Digest", enabledByDefault: false})'
                 " { id key enabledByDefault } }")
    created = answer["data"]["createNotificationCategory"]
    assert (created["key"], created["enabledByDefault"]) == ("digest", False)
    answer = gql("mutation($id: Int!) { updateNotificationCategory(id: $id, input: {name: \"Weekly\"}) { name } }",
                 {"id": created["id"]})
    assert answer["data"]["updateNotificationCategory"] == {"name": "Weekly"}
    keys = [item["key"] for item in gql("{ notificationCategories(pagination: {size: 100}) { items { key } } }")[
        "data"]["notificationCategories"]["items"]]
    assert "digest" in keys and "marketing" in keys


def test_writes_need_the_manage_scope(gql):
    _, reader = factories.api_key("reader", scopes=["read"])
    answer = gql('mutation { createNotificationCategory(input: {key: "digest", name: "Digest"}) { id } }', key=reader)
    assert error_codes(answer) == ["FORBIDDEN"]
    assert "errors" not in gql("{ notificationKinds { items { key } } }", key=reader)
