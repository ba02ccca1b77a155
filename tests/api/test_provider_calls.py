"""The audit of every attempt: each provider call is recorded (which, when, how long, how it ended), shown in
the REST log detail and the admin, exported with the user's data, and gone after erasure and purge."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from logs_app.models import NotificationLog, ProviderCall
from logs_app.pipeline.deliver import logs_deliver
from logs_app.privacy import logs_purge, user_data_erase, user_data_export
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.fakes.twilio import twilio_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def code_sms(db):
    return template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1"})


def send_sms(api, capture, user_id=1001) -> int:
    api.put(f"/api/v1/preferences/{user_id}/", {"phone_number": "+4915112345678"}, format="json")
    with capture(execute=True):
        accepted = api.post("/api/v1/notifications/",
                            {"user_id": user_id, "template_name": "code_sms", "context": {"code": "777"}},
                            format="json")
    assert accepted.status_code == 202, accepted.json()
    return accepted.json()["id"]


def test_a_failover_records_both_calls_in_order_in_the_log_detail(api, code_sms, fake_twilio, fake_sns, sms_via,
                                                                 django_capture_on_commit_callbacks):
    sms_via(fake_twilio, fake_sns)
    fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))
    before = timezone.now()

    log = api.get(f"/api/v1/notifications/{send_sms(api, django_capture_on_commit_callbacks)}/").json()

    assert (log["status"], log["provider"]) == ("sent", "sns")
    twilio, sns = log["provider_calls"]
    assert (twilio["attempt"], twilio["provider"], twilio["outcome"], twilio["provider_message_id"]) == (
        1, "twilio", "transient", "")
    assert "Service unavailable" in twilio["error"] and "20500" in twilio["error"]
    assert (sns["attempt"], sns["provider"], sns["outcome"], sns["error"]) == (1, "sns", "sent", "")
    assert sns["provider_message_id"] == fake_sns.message_ids[0] == log["provider_message_id"]
    assert dt.datetime.fromisoformat(twilio["started_at"]) >= before
    assert dt.datetime.fromisoformat(sns["started_at"]) >= dt.datetime.fromisoformat(twilio["started_at"])
    assert all(isinstance(call["duration_ms"], int) and call["duration_ms"] >= 0 for call in (twilio, sns))


def test_a_timeout_and_the_retry_that_follows_are_two_attempts(api, code_sms, fake_twilio, settings,
                                                               django_capture_on_commit_callbacks):
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "sms": [
        {"BACKEND": "notification_channels.sms.TwilioSMSProvider",
         "OPTIONS": {**fake_twilio.provider_options(), "timeout": 0.2}}]}
    fake_twilio.enqueue(Answer(status=201, json={"sid": "SMlate"}, delay=0.6))
    log_id = send_sms(api, django_capture_on_commit_callbacks)
    assert NotificationLog.objects.get(pk=log_id).status == "pending"

    NotificationLog.objects.filter(pk=log_id).update(scheduled_for=timezone.now())  # its backoff is over
    assert logs_deliver(log_ids=[log_id]) == {"sent": 1}

    calls = api.get(f"/api/v1/notifications/{log_id}/").json()["provider_calls"]
    assert [(call["attempt"], call["provider"], call["outcome"]) for call in calls] == [
        (1, "twilio", "timeout"), (2, "twilio", "sent")]
    assert "timed out" in calls[0]["error"] and calls[1]["provider_message_id"].startswith("SM")


def test_a_refused_message_records_one_call_and_no_failover(api, code_sms, fake_twilio, fake_sns, sms_via,
                                                           django_capture_on_commit_callbacks):
    sms_via(fake_twilio, fake_sns)
    fake_twilio.enqueue(twilio_error(400, 21211, "Invalid 'To' Phone Number"))

    log = api.get(f"/api/v1/notifications/{send_sms(api, django_capture_on_commit_callbacks)}/").json()

    assert log["status"] == "failed"
    (call,) = log["provider_calls"]
    assert (call["provider"], call["outcome"]) == ("twilio", "invalid_recipient")
    assert "21211" in call["error"] and not fake_sns.requests


def test_the_export_holds_the_calls_and_erasure_and_purge_remove_them(api, code_sms, fake_twilio, fake_sns,
                                                                      sms_via, django_capture_on_commit_callbacks):
    sms_via(fake_twilio, fake_sns)
    fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))
    first = send_sms(api, django_capture_on_commit_callbacks, user_id=1001)
    second = send_sms(api, django_capture_on_commit_callbacks, user_id=1002)

    (exported,) = json.loads("".join(user_data_export(user_id=1001)))["notifications"]
    assert exported["id"] == first
    assert [(c["attempt"], c["provider"], c["outcome"]) for c in exported["provider_calls"]] == [
        (1, "twilio", "transient"), (1, "sns", "sent")]
    assert exported["provider_calls"][1]["provider_message_id"] == exported["provider_message_id"]

    user_data_erase(user_id=1001)
    assert not ProviderCall.objects.filter(log_id=first).exists()
    assert ProviderCall.objects.filter(log_id=second).count() == 1

    NotificationLog.objects.update(created_at=timezone.now() - dt.timedelta(days=100))
    assert logs_purge(older_than_days=90).total == 2
    assert not ProviderCall.objects.exists()


def test_the_log_admin_page_lists_its_calls(admin_client, api, code_sms, fake_twilio, fake_sns, sms_via,
                                            django_capture_on_commit_callbacks):
    sms_via(fake_twilio, fake_sns)
    fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))
    log_id = send_sms(api, django_capture_on_commit_callbacks)

    page = admin_client.get(reverse("admin:logs_app_notificationlog_change", args=[log_id]))

    assert page.status_code == 200
    calls = page.content.decode().split("Provider calls", 1)[1]
    assert calls.index("Failed for now") < calls.index("Service unavailable") < calls.index(fake_sns.message_ids[0])
