"""Operators: the admin lists an endpoint's recent attempts and the events, and replays them; so does
`manage.py replay_webhooks`; metrics count attempts, failures and latency per endpoint."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from prometheus_client import REGISTRY

from logs_app.pipeline.accept import notification_send
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.fakes.base import Answer
from webhooks_app import metrics
from webhooks_app.models import EventStatus, WebhookEvent

from .conftest import CLIENT

pytestmark = pytest.mark.django_db


@pytest.fixture
def delivered(receiver, fake_twilio, sms_via, django_capture_on_commit_callbacks):
    """One send: its accepted event answered 500 (still pending), its sent event delivered."""
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345607")
    receiver.enqueue(Answer(status=500))
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(user_id=7, template_name="code_sms", context={"code": "1"}, client=CLIENT)
    return receiver


def test_the_endpoint_page_lists_its_recent_attempts(admin_client, endpoint, delivered):
    page = admin_client.get(reverse("admin:webhooks_app_webhookendpoint_change", args=[endpoint.pk]))
    text = page.content.decode()
    assert page.status_code == 200 and "recent attempts" in text.lower()
    assert "Answered HTTP 500." in text and ">204<" in text
    events = admin_client.get(reverse("admin:webhooks_app_webhookevent_changelist"), {"status__exact": "pending"})
    assert events.status_code == 200 and "notification.accepted" in events.content.decode()
    event = WebhookEvent.objects.get(event_type="notification.accepted")
    detail = admin_client.get(reverse("admin:webhooks_app_webhookevent_change", args=[event.pk]))
    assert detail.status_code == 200 and event.webhook_id in detail.content.decode()
    found = admin_client.get(reverse("admin:webhooks_app_webhookevent_changelist"), {"q": event.webhook_id})
    assert found.status_code == 200 and f">{event.pk}<" in found.content.decode()


def test_the_admin_replays_selected_events_with_their_ids(admin_client, delivered, django_capture_on_commit_callbacks):
    sent = WebhookEvent.objects.get(event_type="notification.sent")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:webhooks_app_webhookevent_changelist"), {
            "action": "replay", "_selected_action": [sent.pk]}, follow=True)
    assert "Replaying 1 webhook event." in response.content.decode()
    assert [webhook_id for webhook_id, _ in delivered.verified] == [sent.webhook_id, sent.webhook_id]
    sent.refresh_from_db()
    assert sent.status == EventStatus.DELIVERED and sent.attempts == 1 and sent.attempt_set.count() == 2


def test_replay_webhooks_replays_one_event_or_an_endpoints_since_a_time(endpoint, delivered,
                                                                        django_capture_on_commit_callbacks):
    accepted = WebhookEvent.objects.get(event_type="notification.accepted")
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--event", accepted.webhook_id, stdout=out)
    assert out.getvalue().startswith("Replaying 1 webhook event to http://127.0.0.1:")
    assert delivered.types_once() == {"notification.accepted": 1, "notification.sent": 1}
    since = (timezone.now() - dt.timedelta(minutes=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_webhooks", "--endpoint", str(endpoint.pk), "--since", since, stdout=out)
    assert "Replaying 2 webhook events" in out.getvalue()
    assert len(delivered.verified) == 4 and delivered.types_once() == {"notification.accepted": 1,
                                                                       "notification.sent": 1}
    future = (timezone.now() + dt.timedelta(minutes=1)).isoformat()
    call_command("replay_webhooks", "--endpoint", str(endpoint.pk), "--since", future, stdout=out)
    assert "Replaying 0 webhook events" in out.getvalue()


@pytest.mark.parametrize("arguments", [[], ["--event", "msg_nope"], ["--event", "12x"], ["--endpoint", "1"],
                                       ["--endpoint", "999", "--since", "2026-01-01T00:00:00Z"],
                                       ["--endpoint", "1", "--since", "2026-01-01T00:00:00"]])
def test_replay_webhooks_says_what_is_wrong(db, arguments):
    with pytest.raises(CommandError):
        call_command("replay_webhooks", *arguments, stdout=io.StringIO())


def test_metrics_count_attempts_failures_and_latency_per_endpoint(endpoint, request):
    label = str(endpoint.pk)
    before = (metrics.ATTEMPTS.labels(label)._value.get(), metrics.FAILURES.labels(label)._value.get())
    request.getfixturevalue("delivered")
    assert metrics.ATTEMPTS.labels(label)._value.get() == before[0] + 2
    assert metrics.FAILURES.labels(label)._value.get() == before[1] + 1
    assert REGISTRY.get_sample_value("webhook_attempt_duration_seconds_count", {"endpoint": label}) >= 2
