"""The send pipeline end to end in process: accept, defer, deliver, retry, fail over, record."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from logs_app.pipeline.claim import logs_claim
from logs_app.pipeline.deliver import logs_deliver
from logs_app.pipeline.sweep import logs_sweep_due
from preferences_app.models import Device, UserPreference
from preferences_app.services import device_add, preference_update
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.fakes.twilio import FakeTwilio, twilio_error
from tests.logs_app.conftest import twice_at_once

pytestmark = pytest.mark.django_db

IOS_TOKEN = "ab" * 32
ANDROID_TOKEN = "dXk3Jq0aT0e6QkHkR0mXyZ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


@pytest.fixture(autouse=True)
def templates(db):
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1234"})
    template_create(name="welcome", type="email", subject="Welcome {{ name }}", body="Hi {{ name }}",
                    html_body="<p>Hi <b>{{ name }}</b></p>", variables={"name": "Ada"})
    template_create(name="order_push", type="push", subject="Order {{ id }}", body="Order {{ id }} shipped",
                    variables={"id": "A1"})


@pytest.fixture
def user(db):
    return preference_update(user_id=1001, email="ada@example.com", phone_number="+4915112345678",
                             timezone="Europe/Berlin")


CONTEXT = {"code": "1234", "name": "Ada", "id": "A1"}  # covers every template above; extra keys are ignored


def send(capture, **kwargs):
    """notification_send as a request makes it: committed, then the queued work runs."""
    with capture(execute=True):
        log, created, _ = notification_send(**{"user_id": 1001, "client": "tests", "context": CONTEXT, **kwargs})
    log.refresh_from_db()
    return log, created


def time_passes(log, seconds=3600):
    """Move the log's clocks back, as if `seconds` had gone by since it was deferred, queued or claimed."""
    shift = dt.timedelta(seconds=seconds)
    log.refresh_from_db()
    NotificationLog.objects.filter(pk=log.pk).update(**{
        field: getattr(log, field) - shift for field in ("scheduled_for", "queued_at", "lease_expires_at")
        if getattr(log, field)})


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def test_sms_reaches_twilio_and_the_log_says_sent(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    log, created = send(capture, template_name="code_sms", context={"code": "777"})
    assert created and log.status == "sent"
    (request,) = fake_twilio.requests
    assert request.form["To"] == "+4915112345678" and request.form["Body"] == "Your code is 777."
    assert log.provider == "twilio" and log.provider_message_id.startswith("SM")
    assert (log.attempts, log.template_version, log.sent_at is not None) == (1, 1, True)


def test_email_reaches_a_real_smtp_server_with_both_parts(user, fake_smtp, settings, capture):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp.port
    log, _ = send(capture, template_name="welcome", context={"name": "<Ada>"})
    assert log.status == "sent" and log.provider == "smtp"
    (mail,) = fake_smtp.messages
    assert mail.rcpt_tos == ["ada@example.com"]
    assert mail.message["Subject"] == "Welcome <Ada>"
    assert mail.message.get_body("plain").get_content().strip() == "Hi <Ada>"
    assert mail.message.get_body("html").get_content().strip() == "<p>Hi <b>&lt;Ada&gt;</b></p>"
    assert log.provider_message_id == mail.message["Message-ID"]


def test_push_goes_to_every_active_device(user, fake_apns, fake_fcm, settings, capture):
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "push": [
        {"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()},
        {"BACKEND": "notification_channels.push.FCMProvider", "OPTIONS": fake_fcm.provider_options()},
    ]}
    device_add(user_id=1001, platform="ios", token=IOS_TOKEN)
    device_add(user_id=1001, platform="android", token=ANDROID_TOKEN)
    log, _ = send(capture, template_name="order_push", context={"id": "B7"})
    assert log.status == "sent"
    assert [r.path for r in fake_apns.requests] == [f"/3/device/{IOS_TOKEN}"]
    assert fake_apns.requests[0].json["aps"]["alert"] == {"title": "Order B7", "body": "Order B7 shipped"}
    assert len(fake_fcm.requests_to("messages:send")) == 1
    assert len(log.provider_message_id.split(",")) == 2


def test_unregistered_device_is_deactivated(user, fake_apns, settings, capture):
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "push": [
        {"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()}]}
    device_add(user_id=1001, platform="ios", token=IOS_TOKEN)
    fake_apns.unregistered.add(IOS_TOKEN)
    log, _ = send(capture, template_name="order_push")
    assert log.status == "failed" and "Unregistered" in log.error_message
    assert not Device.objects.get(token=IOS_TOKEN).active


def test_failover_to_the_second_provider_on_a_transient_error(user, fake_twilio, sms_via, capture):
    with FakeTwilio() as backup:
        sms_via(fake_twilio, backup)
        fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))
        log, _ = send(capture, template_name="code_sms")
        assert log.status == "sent" and log.attempts == 1
        assert (len(fake_twilio.requests), len(backup.requests)) == (1, 1)


def test_no_failover_on_a_permanent_error(user, fake_twilio, sms_via, capture):
    with FakeTwilio() as backup:
        sms_via(fake_twilio, backup)
        fake_twilio.invalid_numbers.add("+4915112345678")
        log, _ = send(capture, template_name="code_sms")
        assert log.status == "failed" and "21211" in log.error_message
        assert backup.requests == []


def test_transient_error_is_retried_after_backoff_then_sent(user, fake_twilio, sms_via, capture, settings):
    sms_via(fake_twilio)
    fake_twilio.enqueue(Answer(status=503, json={"code": 20500, "message": "down", "status": 503}))
    log, _ = send(capture, template_name="code_sms")
    assert (log.status, log.attempts) == ("pending", 1)
    assert "Attempt 1 failed" in log.error_message
    assert timezone.now() < log.scheduled_for <= timezone.now() + dt.timedelta(seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS)
    with capture(execute=True):
        assert logs_sweep_due() == 0  # not due yet
    time_passes(log)
    with capture(execute=True):
        assert logs_sweep_due() == 1
    log.refresh_from_db()
    assert (log.status, log.attempts, log.error_message) == ("sent", 2, None)
    assert len(fake_twilio.requests) == 2


def test_retry_after_from_the_provider_is_honoured(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    fake_twilio.enqueue(Answer(status=429, json={"code": 20429, "message": "slow down", "status": 429},
                               headers={"Retry-After": "120"}))
    log, _ = send(capture, template_name="code_sms")
    assert log.scheduled_for >= timezone.now() + dt.timedelta(seconds=115)


def test_gives_up_after_the_configured_attempts(user, fake_twilio, sms_via, capture, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    sms_via(fake_twilio)
    for _ in range(2):
        fake_twilio.enqueue(Answer(status=500, json={"code": 20500, "message": "boom", "status": 500}))
    log, _ = send(capture, template_name="code_sms")
    time_passes(log)
    with capture(execute=True):
        logs_sweep_due()
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("failed", 2)
    assert log.error_message.startswith("Gave up after 2 attempts")


def test_giving_up_after_one_attempt_says_attempt(user, fake_twilio, sms_via, capture, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 1
    sms_via(fake_twilio)
    fake_twilio.enqueue(Answer(status=500, json={"code": 20500, "message": "boom", "status": 500}))
    log, _ = send(capture, template_name="code_sms")
    log.refresh_from_db()
    assert log.status == "failed" and log.error_message.startswith("Gave up after 1 attempt: ")


def test_disabled_channel_is_suppressed_and_no_provider_is_called(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    preference_update(user_id=1001, sms_enabled=False)
    log, _ = send(capture, template_name="code_sms")
    assert log.status == "suppressed" and "turned off sms" in log.error_message
    assert fake_twilio.requests == []


def test_quiet_hours_defer_to_the_end_of_the_window(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    now = timezone.now()
    local = now.astimezone(dt.timezone.utc)
    start = (local - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    preference_update(user_id=1001, timezone="UTC", quiet_hours_start=start, quiet_hours_end=end)
    log, _ = send(capture, template_name="code_sms")
    assert log.status == "pending" and fake_twilio.requests == []
    assert log.scheduled_for.time().replace(tzinfo=None) == end
    with capture(execute=True):
        assert logs_sweep_due() == 0
    time_passes(log, seconds=3 * 3600)
    with capture(execute=True):
        assert logs_sweep_due() == 1
    log.refresh_from_db()
    assert log.status == "sent" and len(fake_twilio.requests) == 1


def test_urgent_ignores_quiet_hours(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    preference_update(user_id=1001, timezone="UTC", quiet_hours_start="00:00", quiet_hours_end="23:59")
    log, _ = send(capture, template_name="code_sms", priority="urgent")
    assert log.status == "sent" and log.scheduled_for is None


def test_send_at_schedules_delivery(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    later = timezone.now() + dt.timedelta(hours=3)
    log, _ = send(capture, template_name="code_sms", send_at=later)
    assert (log.status, log.scheduled_for) == ("pending", later)
    assert fake_twilio.requests == []


def test_same_idempotency_key_returns_the_same_log_and_sends_once(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    first, created_first = send(capture, template_name="code_sms", idempotency_key="order-1")
    again, created_again = send(capture, template_name="code_sms", idempotency_key="order-1")
    other, created_other = send(capture, template_name="code_sms", idempotency_key="order-1", client="another")
    assert (created_first, created_again, created_other) == (True, False, True)
    assert again.pk == first.pk and other.pk != first.pk
    assert len(fake_twilio.requests) == 2


@pytest.mark.parametrize("kwargs, field", [
    ({"template_name": "nope"}, "template_name"),
    ({"template_name": "code_sms", "context": {"other": 1}}, "context"),
    ({"template_name": "code_sms", "context": ["not", "a", "dict"]}, "context"),
    ({"template_name": "code_sms", "priority": "asap"}, "priority"),
    ({"template_name": "code_sms", "channel": "fax"}, "channel"),
    ({"template_name": "code_sms", "recipient": "12345"}, "recipient"),
    ({"template_name": "code_sms", "context": {"code": "ж" * 700}}, "message"),
    ({"template_name": "welcome", "recipient": "not-an-email"}, "recipient"),
    ({"template_name": "code_sms", "send_at": timezone.now() - dt.timedelta(days=1)}, "send_at"),
    ({"template_name": "code_sms", "idempotency_key": "k" * 300}, "idempotency_key"),
    ({"template_name": "order_push"}, "recipient"),  # no devices on file
])
def test_bad_requests_are_refused_with_the_field_and_nothing_is_logged(user, kwargs, field, capture):
    with pytest.raises(ValidationError) as excinfo:
        send(capture, **kwargs)
    assert field in excinfo.value.message_dict
    assert not NotificationLog.objects.exists()


def test_user_without_an_address_needs_a_recipient(db, capture):
    with pytest.raises(ValidationError) as excinfo:
        send(capture, user_id=77, template_name="welcome")
    assert excinfo.value.message_dict["recipient"] == [
        "User 77 has no email address on file; name a recipient, or give `email` in the context."]
    log, _ = send(capture, user_id=77, template_name="welcome", recipient="someone@example.com")
    assert log.status == "sent" and log.recipient == "someone@example.com"


def test_a_log_already_claimed_by_another_worker_is_skipped(user, fake_twilio, sms_via, capture):
    sms_via(fake_twilio)
    with capture(execute=False):
        log, *_ = notification_send(user_id=1001, template_name="code_sms", context=CONTEXT)
    assert logs_deliver(log_ids=[log.pk]) == {"sent": 1}
    assert logs_deliver(log_ids=[log.pk]) == {}  # a second delivery of the same message finds nothing to do
    assert len(fake_twilio.requests) == 1


def test_a_worker_lost_after_claiming_is_recovered_by_the_sweep(user, fake_twilio, sms_via, capture, settings):
    sms_via(fake_twilio)
    with capture(execute=False):
        log, *_ = notification_send(user_id=1001, template_name="code_sms", context=CONTEXT)
    # The worker claims the log, then dies before the provider is called.
    logs_claim(log_ids=[log.pk], now=timezone.now())
    assert logs_sweep_due() == 0  # the lease still holds, and it was queued a moment ago
    time_passes(log, seconds=max(settings.NOTIFICATION_LEASE_SECONDS, settings.NOTIFICATION_REQUEUE_AFTER_SECONDS) + 1)
    with capture(execute=True):
        assert logs_sweep_due() == 1
    log.refresh_from_db()
    assert (log.status, log.attempts) == ("sent", 2)
    assert len(fake_twilio.requests) == 1


def test_bulk_send_writes_every_log_and_applies_each_users_preferences(db, capture, fake_twilio, sms_via):
    sms_via(fake_twilio)
    UserPreference.objects.bulk_create(
        [UserPreference(user_id=uid, phone_number="+4915112345678") for uid in range(1, 10_001)])
    UserPreference.objects.filter(user_id__lte=100).update(sms_enabled=False)
    with capture(execute=False) as callbacks:
        result, _ = notification_send_bulk(user_ids=list(range(1, 10_001)) + [20_000], template_name="code_sms",
                                            context={"code": "9"}, client="tests")
    assert (result.accepted, result.suppressed, result.failed) == (9_900, 100, 1)
    logs = NotificationLog.objects.filter(batch_id=result.batch_id)
    assert logs.count() == 10_001
    assert logs.filter(status="pending", queued_at__isnull=False).count() == 9_900
    assert logs.get(user_id=20_000).error_message == "No sms address on file for user 20000."
    assert len(callbacks) == 1


def test_bulk_send_refuses_bad_input_as_a_whole(db):
    for kwargs, field in [({"user_ids": []}, "user_ids"), ({"user_ids": [1, -2, "x"]}, "user_ids"),
                          ({"user_ids": [1], "template_name": "nope"}, "template_name")]:
        with pytest.raises(ValidationError) as excinfo:
            notification_send_bulk(**{"template_name": "code_sms", **kwargs})
        assert field in excinfo.value.message_dict
    assert not NotificationLog.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_the_same_log_send_it_once(fake_twilio, sms_via):
    if connection.vendor != "postgresql":
        pytest.skip("row locks with SKIP LOCKED need PostgreSQL")
    template_create(name="code_sms2", type="sms", body="Code {{ code }}", variables={"code": "1"})
    preference_update(user_id=1001, phone_number="+4915112345678")
    sms_via(fake_twilio)
    log, *_ = notification_send(user_id=1001, template_name="code_sms2", context={"code": "1"})
    NotificationLog.objects.filter(pk=log.pk).update(status="pending", lease_expires_at=None, attempts=0)
    fake_twilio.reset()
    results = twice_at_once(lambda: logs_deliver(log_ids=[log.pk]))
    assert sorted(results, key=len) == [{}, {"sent": 1}]
    assert len(fake_twilio.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_sends_with_the_same_key_at_once_make_one_log(fake_twilio, sms_via):
    if connection.vendor != "postgresql":
        pytest.skip("two writers at once need PostgreSQL (SQLite locks the table)")
    # Both may pass the repeat check before either commits: the key's unique rule turns the second INSERT into
    # an answer with the first one's log, and the second's own log is rolled back with its key.
    template_create(name="code_sms3", type="sms", body="Code {{ code }}", variables={"code": "1"})
    preference_update(user_id=1001, phone_number="+4915112345678")
    sms_via(fake_twilio)
    results = twice_at_once(lambda: notification_send(user_id=1001, template_name="code_sms3", context={"code": "1"},
                                                      idempotency_key="order-9", client="billing"))
    assert sorted(accepted.created for accepted in results) == [False, True]
    assert len({accepted.log.pk for accepted in results}) == 1
    assert list(NotificationLog.objects.values_list("pk", flat=True)) == [results[0].log.pk]
    assert len(fake_twilio.requests) == 1
