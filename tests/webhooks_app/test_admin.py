"""Webhook endpoints in the admin: made through the services, the secret shown once."""

import pytest
from django.urls import reverse

from tests import factories
from webhooks_app.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_operator_makes_an_endpoint_for_a_key_and_sees_its_secret_once(admin_client):
    key, _ = factories.api_key("shop")
    assert admin_client.get(reverse("admin:webhooks_app_webhookendpoint_add")).status_code == 200
    response = admin_client.post(reverse("admin:webhooks_app_webhookendpoint_add"), {
        "client": key.prefix, "url": "https://93.184.215.14/hooks", "description": "shop",
        "event_types": ["notification.sent"], "enabled": "on"}, follow=True)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.client == key.prefix and endpoint.event_types == ["notification.sent"]
    assert endpoint.secret in response.content.decode()
    page = admin_client.get(reverse("admin:webhooks_app_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()


def test_admin_refuses_a_private_address(admin_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    key, _ = factories.api_key("shop")
    response = admin_client.post(reverse("admin:webhooks_app_webhookendpoint_add"), {
        "client": key.prefix, "url": "https://169.254.169.254/latest", "enabled": "on"})
    assert response.status_code == 200 and "not a public address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_rotate_action_shows_the_new_secret(admin_client):
    from webhooks_app.services import endpoint_create

    endpoint = endpoint_create(client="abc", url="https://93.184.215.14/hooks")
    old = endpoint.secret
    response = admin_client.post(reverse("admin:webhooks_app_webhookendpoint_changelist"), {
        "action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True)
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in response.content.decode()
