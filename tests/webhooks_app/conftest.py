"""Fixtures for webhook delivery: a verifying loopback receiver and an endpoint of the client "shop" there."""

from collections.abc import Iterator

import pytest
from django.utils import timezone

from tests.fakes.webhook_receiver import FakeWebhookReceiver
from webhooks_app.dispatch import events_sweep_due
from webhooks_app.models import EventStatus, WebhookEndpoint, WebhookEvent
from webhooks_app.services import endpoint_create

CLIENT = "shop"


@pytest.fixture
def loopback_allowed(settings):
    """The receiver listens on http://127.0.0.1: allowed here, as an operator may for a private network."""
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True


@pytest.fixture
def endpoint(db, loopback_allowed) -> WebhookEndpoint:
    return endpoint_create(client=CLIENT, url="http://127.0.0.1:9/hooks/notifications")


@pytest.fixture
def receiver(endpoint) -> Iterator[FakeWebhookReceiver]:
    """Listens with the endpoint's secret; the endpoint points at it."""
    with FakeWebhookReceiver(secret=endpoint.secret) as fake:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=fake.endpoint_url)
        endpoint.url = fake.endpoint_url
        yield fake


def retries_fall_due() -> int:
    """Time passes until every pending event's next attempt is due, then the sweep runs (in process, it
    delivers them). Returns how many it queued."""
    WebhookEvent.objects.filter(status=EventStatus.PENDING).update(next_attempt_at=timezone.now())
    return events_sweep_due()
