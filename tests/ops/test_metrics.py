"""Prometheus metrics: /metrics is protected, and the counters move as notifications are sent and fail."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from tests.fakes.base import Answer
from tests.fakes.twilio import FakeTwilio, twilio_error
from tests.ops.conftest import CONTEXT, sample

pytestmark = pytest.mark.django_db

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> str:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
        return response.content.decode()

    return get


def send(capture, **kwargs) -> NotificationLog:
    with capture(execute=True):
        log, *_ = notification_send(**{"user_id": 1001, "client": "ops", "context": CONTEXT, **kwargs})
    log.refresh_from_db()
    return log


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN])
def test_metrics_need_the_bearer_token(client, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    assert client.get("/metrics", **extra).status_code == 404


def test_without_a_token_metrics_are_closed_unless_debugging(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200


def test_a_sent_notification_moves_the_counters(user, fake_twilio, sms_via, django_capture_on_commit_callbacks,
                                                scrape):
    sms_via(fake_twilio)
    before = (sample("notifications_accepted_total", channel="sms"),
              sample("notifications_total", channel="sms", provider="twilio", status="sent"),
              sample("notification_delivery_seconds_count", channel="sms", provider="twilio"))
    log = send(django_capture_on_commit_callbacks, template_name="code_sms")
    assert log.status == "sent"
    after = (sample("notifications_accepted_total", channel="sms"),
             sample("notifications_total", channel="sms", provider="twilio", status="sent"),
             sample("notification_delivery_seconds_count", channel="sms", provider="twilio"))
    assert [b - a for a, b in zip(before, after)] == [1, 1, 1]
    text = scrape()
    assert 'notifications_total{channel="sms",provider="twilio",status="sent"}' in text
    assert "notification_delivery_seconds_bucket" in text


def test_a_failed_notification_moves_the_failure_counter(user, fake_twilio, sms_via,
                                                         django_capture_on_commit_callbacks):
    sms_via(fake_twilio)
    fake_twilio.invalid_numbers.add("+4915112345678")
    before = sample("notifications_total", channel="sms", provider="twilio", status="failed")
    assert send(django_capture_on_commit_callbacks, template_name="code_sms").status == "failed"
    assert sample("notifications_total", channel="sms", provider="twilio", status="failed") == before + 1


def test_retries_and_failovers_are_counted(user, fake_twilio, sms_via, django_capture_on_commit_callbacks):
    with FakeTwilio() as backup:
        sms_via(fake_twilio, backup)
        fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))
        before = sample("notification_failovers_total", channel="sms", provider="twilio")
        assert send(django_capture_on_commit_callbacks, template_name="code_sms").status == "sent"
        assert sample("notification_failovers_total", channel="sms", provider="twilio") == before + 1

    sms_via(fake_twilio)
    fake_twilio.enqueue(Answer(status=503, json={"code": 20500, "message": "down", "status": 503}))
    before = sample("notification_retries_total", channel="sms", provider="twilio")
    assert send(django_capture_on_commit_callbacks, template_name="code_sms").status == "pending"
    assert sample("notification_retries_total", channel="sms", provider="twilio") == before + 1


def test_suppressed_notifications_are_counted_at_acceptance(user, django_capture_on_commit_callbacks):
    from preferences_app.services import preference_update

    preference_update(user_id=1001, sms_enabled=False)
    before = sample("notifications_total", channel="sms", provider="", status="suppressed")
    assert send(django_capture_on_commit_callbacks, template_name="code_sms").status == "suppressed"
    assert sample("notifications_total", channel="sms", provider="", status="suppressed") == before + 1


def test_requests_are_counted_by_route_pattern_and_status(client):
    before = sample("http_requests_total", method="GET", route="/health/live", status="200")
    client.get("/health/live")
    assert sample("http_requests_total", method="GET", route="/health/live", status="200") == before + 1
    missing = sample("http_requests_total", method="GET", route="unmatched", status="404")
    client.get("/no/such/page/12345")
    assert sample("http_requests_total", method="GET", route="unmatched", status="404") == missing + 1


def test_rate_limit_rejections_are_counted(make_client, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "read": {"minute": 1, "hour": 100}}
    api = make_client()
    before = sample("ratelimit_rejections_total", group="read")
    assert api.get("/api/v1/templates/").status_code == 200
    assert api.get("/api/v1/templates/").status_code == 429
    assert sample("ratelimit_rejections_total", group="read") == before + 1


def test_queue_lag_is_the_age_of_the_oldest_due_pending_log(templates, scrape):
    now = timezone.now()
    NotificationLog.objects.create(user_id=1, type="sms", status="pending", scheduled_for=now - dt.timedelta(minutes=10))
    NotificationLog.objects.create(user_id=2, type="sms", status="pending", scheduled_for=now + dt.timedelta(hours=1))
    NotificationLog.objects.create(user_id=3, type="sms", status="sent", scheduled_for=now - dt.timedelta(days=1))
    # Written behind the pipeline's back: the rollup the gauges read is rebuilt from the logs.
    call_command("log_counts_check", "--all", "--repair")
    lines = dict(line.rsplit(" ", 1) for line in scrape().splitlines() if line and not line.startswith("#"))
    assert float(lines["notification_queue_due"]) == 1
    assert 600 <= float(lines["notification_queue_lag_seconds"]) < 660
    # A log with no schedule waits from its acceptance (found from the rollup's oldest pending hour on).
    unscheduled = NotificationLog.objects.create(user_id=4, type="sms", status="pending")
    NotificationLog.objects.filter(pk=unscheduled.pk).update(created_at=now - dt.timedelta(hours=3))
    call_command("log_counts_check", "--all", "--repair")
    lines = dict(line.rsplit(" ", 1) for line in scrape().splitlines() if line and not line.startswith("#"))
    assert float(lines["notification_queue_due"]) == 2
    assert 3 * 3600 <= float(lines["notification_queue_lag_seconds"]) < 3 * 3600 + 60


def test_processes_sharing_a_multiprocess_directory_are_summed(tmp_path):
    """gunicorn's workers each count their own requests; one scrape reports them all."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    count = ("import django; django.setup(); from kit import metrics; "
             "metrics.notification_failed(channel='sms', provider='twilio')")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], cwd=root, env=env, check=True, timeout=60)
    scrape = ("import django; django.setup(); from prometheus_client import generate_latest; "
              "from kit.metrics import _registry; print(generate_latest(_registry()).decode())")
    text = subprocess.run([sys.executable, "-c", scrape], cwd=root, env=env, check=True, timeout=60,
                          capture_output=True, text=True).stdout
    assert 'notifications_total{channel="sms",provider="twilio",status="failed"} 2.0' in text


def test_api_sends_add_up_in_the_request_and_acceptance_counters(user, make_client):
    """A send through REST (the API's shorter middleware path) is one request by its route and one accepted
    notification, as many as the logs written."""
    api = make_client()
    route = {"method": "POST", "route": "/api/v1/notifications/", "status": "202"}
    before = (sample("http_requests_total", **route), sample("notifications_accepted_total", channel="sms"),
              sample("http_request_duration_seconds_count", **route), NotificationLog.objects.count())
    for _ in range(3):
        response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                       "context": CONTEXT}, format="json")
        assert response.status_code == 202, response.content
    after = (sample("http_requests_total", **route), sample("notifications_accepted_total", channel="sms"),
             sample("http_request_duration_seconds_count", **route), NotificationLog.objects.count())
    assert [b - a for a, b in zip(before, after)] == [3, 3, 3, 3]
