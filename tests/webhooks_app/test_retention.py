"""Retention: purge_logs (the nightly CronJob) deletes webhook events delivered or given up more than
WEBHOOK_RETENTION_DAYS ago with their attempts, and keeps pending ones whatever their age."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from webhooks_app.models import EventStatus, WebhookAttempt, WebhookEvent
from webhooks_app.outbox import new_webhook_id

pytestmark = pytest.mark.django_db


def event(endpoint, *, days_ago: float, status: str, attempts: int = 1) -> WebhookEvent:
    at = timezone.now() - dt.timedelta(days=days_ago)
    made = WebhookEvent.objects.create(endpoint=endpoint, webhook_id=new_webhook_id(), event_type="notification.sent",
                                       log_id=1, payload={"type": "notification.sent"}, status=status,
                                       attempts=attempts, next_attempt_at=at, created_at=at)
    for _ in range(attempts):
        WebhookAttempt.objects.create(event=made, endpoint=endpoint, attempted_at=at, status_code=500)
    return made


def purge_logs(*args: str) -> str:
    out = io.StringIO()
    call_command("purge_logs", "--older-than", "90", "--batch-size", "2", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def events(endpoint):
    return {
        "old delivered": event(endpoint, days_ago=31, status=EventStatus.DELIVERED, attempts=2),
        "old failed": event(endpoint, days_ago=40, status=EventStatus.FAILED, attempts=7),
        "older delivered": event(endpoint, days_ago=45, status=EventStatus.DELIVERED),
        "old pending": event(endpoint, days_ago=60, status=EventStatus.PENDING, attempts=3),
        "recent delivered": event(endpoint, days_ago=29, status=EventStatus.DELIVERED),
        "recent failed": event(endpoint, days_ago=1, status=EventStatus.FAILED),
    }


def test_purge_logs_deletes_finished_events_older_than_the_retention_with_their_attempts(events):
    assert "Would delete 3 webhook events delivered or given up more than 30 days ago, with 10 attempts." in (
        purge_logs("--dry-run"))
    assert WebhookEvent.objects.count() == 6
    assert "Deleted 3 webhook events delivered or given up more than 30 days ago, with 10 attempts." in purge_logs()
    kept = {name for name, item in events.items() if WebhookEvent.objects.filter(pk=item.pk).exists()}
    assert kept == {"old pending", "recent delivered", "recent failed"}
    assert WebhookAttempt.objects.count() == 5  # the kept events' attempts
    assert "Deleted 0 webhook events" in purge_logs()


def test_the_retention_is_a_setting_and_zero_keeps_everything(events, settings):
    settings.WEBHOOK_RETENTION_DAYS = 0
    assert "Kept every webhook event (WEBHOOK_RETENTION_DAYS is 0)." in purge_logs()
    assert WebhookEvent.objects.count() == 6
    settings.WEBHOOK_RETENTION_DAYS = 2
    assert "Deleted 4 webhook events" in purge_logs()
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.PENDING, EventStatus.FAILED}
