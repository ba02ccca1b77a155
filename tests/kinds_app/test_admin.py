"""The kinds and categories pages of the admin, as a staff member sees them."""

import pytest
from django.urls import reverse

from kinds_app.models import Category, NotificationKind
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["admin:kinds_app_notificationkind_changelist", "admin:kinds_app_notificationkind_add",
                                  "admin:kinds_app_category_changelist", "admin:kinds_app_category_add"])
def test_staff_sees_the_pages_and_strangers_are_sent_to_login(admin_client, client, name):
    factories.NotificationKindFactory()
    assert admin_client.get(reverse(name)).status_code == 200
    assert client.get(reverse(name)).status_code == 302


def test_adding_a_kind_picks_a_template_per_channel(admin_client):
    email = factories.NotificationTemplateFactory(name="shipped_email")
    sms = factories.NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None)
    response = admin_client.post(reverse("admin:kinds_app_notificationkind_add"), {
        "key": "order_shipped", "name": "Order shipped", "description": "",
        "category": Category.objects.get(key="transactional").pk, "critical": "on",
        "email_template": email.pk, "sms_template": sms.pk, "push_template": ""})
    assert response.status_code == 302, response.context["adminform"].form.errors
    kind = NotificationKind.objects.get(key="order_shipped")
    assert kind.critical
    assert {link.channel: link.template.name for link in kind.channel_templates.all()} == {
        "email": "shipped_email", "sms": "shipped_sms"}


def test_a_template_of_the_wrong_channel_is_not_offered(admin_client):
    sms = factories.NotificationTemplateFactory(name="shipped_sms", type="sms", subject=None)
    response = admin_client.post(reverse("admin:kinds_app_notificationkind_add"), {
        "key": "order_shipped", "name": "Order shipped", "category": Category.objects.get(key="product").pk,
        "email_template": sms.pk})
    assert response.status_code == 200
    assert "email_template" in response.context["adminform"].form.errors
    assert not NotificationKind.objects.exists()


def test_a_kind_without_any_channel_is_refused_on_the_form(admin_client):
    response = admin_client.post(reverse("admin:kinds_app_notificationkind_add"), {
        "key": "order_shipped", "name": "Order shipped", "category": Category.objects.get(key="product").pk})
    assert response.status_code == 200
    assert "Pick a template for at least one channel." in response.content.decode()


def test_the_change_page_shows_the_channel_templates_and_a_preview_link(admin_client):
    kind = factories.NotificationKindFactory(key="order_shipped")
    html = admin_client.get(reverse("admin:kinds_app_notificationkind_change", args=[kind.pk])).content.decode()
    assert "Templates per channel" in html
    assert 'selected>order_shipped_sms</option>' in html
    assert reverse("admin:kinds_app_notificationkind_preview", args=[kind.pk]) in html


def test_the_preview_renders_every_channel_with_one_sample_context(admin_client):
    kind = factories.NotificationKindFactory(key="order_shipped")
    url = reverse("admin:kinds_app_notificationkind_preview", args=[kind.pk])
    html = admin_client.get(url).content.decode()
    assert "Hello Ada" in html and "Hi Ada, your code is 1234." in html
    html = admin_client.get(url, {"context": '{"first_name": "Grace", "code": "77"}'}).content.decode()
    assert "Hello Grace" in html and "Hi Grace, your code is 77." in html
    html = admin_client.get(url, {"context": '{"first_name": "Grace"}'}).content.decode()
    assert "Hi Grace" not in html and "code" in html
    html = admin_client.get(url, {"context": "[1"}).content.decode()
    assert "Not valid JSON" in html
