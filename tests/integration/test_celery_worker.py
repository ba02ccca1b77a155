"""A real Celery worker on the real Redis broker delivers what the service accepted.

Runs when PostgreSQL is the database and CELERY_TEST_BROKER_URL names a Redis broker (CI sets
both); the worker is a separate process that reads the test database.
"""

import pytest
from django.db import connection
from django.utils import timezone

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.sweep import logs_sweep_due
from preferences_app.services import device_add, preference_update
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

IOS_TOKEN = "cd" * 32


@pytest.fixture
def worker(publishing, broker_url, fake_twilio, fake_smtp, fake_apns, tmp_path):
    providers = {
        "sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": fake_twilio.provider_options()}],
        "push": [{"BACKEND": "notification_channels.push.APNsProvider", "OPTIONS": fake_apns.provider_options()}],
    }
    env = worker_env(broker_url=broker_url, providers=providers, NOTIFICATION_RETRY_BASE_SECONDS="1",
                     EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                     EMAIL_PORT=str(fake_smtp.port))
    process = Worker(env=env, log_dir=tmp_path)
    try:
        process.start()
        yield process
    finally:
        process.stop()
        print(process.log.read_text())  # pytest shows it only when the test fails


@pytest.fixture
def user(db):
    template_create(name="code_sms", type="sms", body="Code {{ code }}", variables={"code": "1"})
    template_create(name="hello_email", type="email", subject="Hi {{ name }}", body="Hello {{ name }}",
                    variables={"name": "Ada"})
    template_create(name="ping_push", type="push", subject="Ping", body="Ping {{ name }}", variables={"name": "A"})
    preference_update(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    device_add(user_id=1001, platform="ios", token=IOS_TOKEN)


def test_worker_delivers_email_sms_and_push(user, worker, fake_twilio, fake_smtp, fake_apns):
    context = {"code": "42", "name": "Ada"}
    logs = [notification_send(user_id=1001, template_name=name, context=context)[0]
            for name in ("code_sms", "hello_email", "ping_push")]
    ids = [log.pk for log in logs]
    assert wait_for(lambda: NotificationLog.objects.filter(pk__in=ids, status="sent").count() == 3), \
        list(NotificationLog.objects.filter(pk__in=ids).values_list("type", "status", "error_message"))
    assert [r.form["Body"] for r in fake_twilio.requests] == ["Code 42"]
    assert [m.message["Subject"] for m in fake_smtp.messages] == ["Hi Ada"]
    assert [r.path for r in fake_apns.requests] == [f"/3/device/{IOS_TOKEN}"]


def test_worker_retries_a_transient_failure(user, worker, fake_twilio):
    fake_twilio.enqueue(Answer(status=503, json={"code": 20500, "message": "down", "status": 503}))
    log, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "7"})
    assert wait_for(lambda: NotificationLog.objects.filter(pk=log.pk, status="sent").exists()), \
        NotificationLog.objects.filter(pk=log.pk).values("status", "attempts", "scheduled_for", "error_message").get()
    log.refresh_from_db()
    assert log.attempts == 2 and len(fake_twilio.requests) == 2


def test_sweep_recovers_a_notification_whose_queue_message_was_lost(user, worker, fake_twilio):
    log, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "9"},
                               send_at=timezone.now() + timezone.timedelta(hours=1))
    # As if its time had come and the message that should have carried it never arrived.
    NotificationLog.objects.filter(pk=log.pk).update(scheduled_for=timezone.now(), queued_at=None)
    assert logs_sweep_due() == 1
    assert wait_for(lambda: NotificationLog.objects.filter(pk=log.pk, status="sent").exists())
    assert [r.form["Body"] for r in fake_twilio.requests] == ["Code 9"]


def _worker_backends() -> list[int]:
    """The PostgreSQL backends open on the test database other than this process's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        return sorted(row[0] for row in cursor.fetchall())


def test_worker_keeps_its_database_connection_between_tasks_and_replaces_a_lost_one(user, worker, fake_twilio):
    first, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "1"})
    assert wait_for(lambda: NotificationLog.objects.filter(pk=first.pk, status="sent").exists())
    # The task is over and its process kept the connection for the next one (Celery alone closes it).
    assert wait_for(lambda: len(_worker_backends()) >= 1)
    kept = _worker_backends()
    second, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "2"})
    assert wait_for(lambda: NotificationLog.objects.filter(pk=second.pk, status="sent").exists())
    assert set(_worker_backends()) & set(kept)
    # A connection the server dropped (a restart, a failover) is noticed before the next task uses it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
    third, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "3"})
    assert wait_for(lambda: NotificationLog.objects.filter(pk=third.pk, status="sent").exists()), \
        NotificationLog.objects.filter(pk=third.pk).values("status", "attempts", "error_message").get()
    assert [r.form["Body"] for r in fake_twilio.requests] == ["Code 1", "Code 2", "Code 3"]
