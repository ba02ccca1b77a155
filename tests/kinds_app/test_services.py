import pytest
from django.core.exceptions import ValidationError

from kinds_app.models import Category, NotificationKind
from kinds_app.services import (
    category_create, category_delete, category_update, kind_create, kind_delete, kind_preview, kind_update,
)
from templates_app.models import NotificationTemplate
from tests.factories import NotificationKindFactory, NotificationTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def channel_templates() -> dict[str, NotificationTemplate]:
    return {
        "email": NotificationTemplateFactory(name="shipped_email"),
        "sms": NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None),
        "push": NotificationTemplateFactory(name="shipped_push", type="push", subject=None),
    }


def test_a_fresh_install_has_the_usual_categories():
    assert set(Category.objects.values_list("key", flat=True)) >= {"transactional", "marketing", "security", "product"}


def test_a_kind_owns_one_template_per_channel(channel_templates):
    kind = kind_create(key="order_shipped", name="Order shipped", category="transactional",
                       templates={channel: t.id for channel, t in channel_templates.items()})
    assert {link.channel: link.template.name for link in kind.channel_templates.all()} == {
        "email": "shipped_email", "sms": "shipped_sms", "push": "shipped_push"}
    assert kind.category.key == "transactional" and kind.critical is False


def test_create_reports_every_bad_field_at_once(channel_templates):
    with pytest.raises(ValidationError) as caught:
        kind_create(key="Order Shipped", name="x", category="nope",
                    templates={"email": channel_templates["sms"].id, "fax": 1, "push": 999999})
    assert caught.value.message_dict == {
        "key": ["Not a valid key: Lower-case letters, digits, '_', '-' and '.', starting with a letter or digit."],
        "category": ["No category with the key 'nope'."],
        "templates.email": ["Template 'shipped_sms' is a sms template, not email."],
        "templates.fax": ["Not a channel; one of: email, sms, push, in_app."],
        "templates.push": ["No template with the id 999999."],
    }
    assert not NotificationKind.objects.exists()


def test_a_kind_needs_at_least_one_channel():
    with pytest.raises(ValidationError) as caught:
        kind_create(key="empty", name="Empty", category="product", templates={"email": None})
    assert caught.value.message_dict == {"templates": ["A kind needs a template for at least one channel."]}


def test_a_taken_key_is_refused(channel_templates):
    NotificationKindFactory(key="order_shipped")
    with pytest.raises(ValidationError) as caught:
        kind_create(key="order_shipped", name="Again", category="product", templates={"sms": channel_templates["sms"]})
    assert list(caught.value.message_dict) == ["key"]


def test_update_replaces_the_channel_set_and_moves_category(channel_templates):
    kind = NotificationKindFactory(key="order_shipped")
    kind_update(kind=kind, category="marketing", critical=True, templates={"sms": channel_templates["sms"].id})
    kind.refresh_from_db()
    assert kind.category.key == "marketing" and kind.critical
    assert [(link.channel, link.template.name) for link in kind.channel_templates.all()] == [("sms", "shipped_sms")]


def test_update_refuses_unknown_fields():
    with pytest.raises(ValidationError) as caught:
        kind_update(kind=NotificationKindFactory(), colour="red")
    assert caught.value.message_dict == {"colour": ["Unknown field."]}


def test_deleting_a_template_takes_it_off_the_kind_only():
    kind = NotificationKindFactory(key="order_shipped")
    NotificationTemplate.objects.get(name="order_shipped_sms").delete()
    assert sorted(kind.channel_templates.values_list("channel", flat=True)) == ["email", "push"]


def test_deleting_a_kind_keeps_its_templates():
    kind = NotificationKindFactory(key="order_shipped")
    kind_delete(kind=kind)
    assert NotificationTemplate.objects.filter(name__startswith="order_shipped_").count() == 3


def test_a_category_with_kinds_cannot_be_deleted_and_says_which():
    NotificationKindFactory(key="order_shipped", category=Category.objects.get(key="product"))
    with pytest.raises(ValidationError) as caught:
        category_delete(category=Category.objects.get(key="product"))
    assert caught.value.message_dict["category"] == [
        "Kinds still belong to 'product' (order_shipped): move or delete them first."]
    category_delete(category=Category.objects.get(key="security"))
    assert not Category.objects.filter(key="security").exists()


def test_categories_are_created_and_changed_with_their_default():
    category = category_create(key="digest", name="Digest", enabled_by_default=False)
    category_update(category=category, name="Weekly digest")
    category.refresh_from_db()
    assert (category.name, category.enabled_by_default) == ("Weekly digest", False)
    with pytest.raises(ValidationError) as caught:
        category_create(key="digest", name="Again")
    assert list(caught.value.message_dict) == ["key"]


def test_preview_renders_every_channel_with_one_context():
    kind = NotificationKindFactory(key="order_shipped")
    previews = kind_preview(kind=kind, context={"first_name": "Grace", "code": "77"})
    assert list(previews) == ["email", "push", "sms"]
    assert previews["email"].subject == "Hello Grace"
    assert previews["sms"].body == "Hi Grace, your code is 77."


def test_preview_names_what_a_channel_misses():
    kind = NotificationKindFactory(key="order_shipped", channels=["sms"])
    previews = kind_preview(kind=kind, context={"first_name": "Grace"})
    assert isinstance(previews["sms"], ValidationError) and "code" in " ".join(previews["sms"].messages)
