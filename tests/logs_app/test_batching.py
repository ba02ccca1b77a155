"""Delivery in batches: one claim, the messages one by one, the successes written together."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from logs_app.models import NotificationLog
from logs_app.pipeline import deliver as delivery
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from logs_app.pipeline.deliver import logs_deliver
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from templates_app.services import template_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(db, fake_twilio, sms_via):
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    for user_id in range(1, 6):
        preference_update(user_id=user_id, phone_number=f"+49151123456{user_id:02d}")


def accept(count: int) -> list[int]:
    return [notification_send(user_id=user_id, template_name="code_sms", context={"code": str(user_id)})[0].pk
            for user_id in range(1, count + 1)]


def test_a_batch_is_marked_sent_with_one_update(fake_twilio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(5)
    with CaptureQueriesContext(connection) as queries:
        assert logs_deliver(log_ids=ids) == {"sent": 5}
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "WITH"))]
    assert len(updates) == 2  # the claim's lease, and the five outcomes
    assert len(fake_twilio.requests) == 5
    for log in NotificationLog.objects.filter(pk__in=ids):
        assert (log.status, log.provider, log.lease_expires_at) == ("sent", "twilio", None)
        assert log.provider_message_id.startswith("SM") and log.sent_at is not None
        assert log.notification_metadata["status"] == "queued"


def test_a_log_moved_on_while_its_batch_was_out_keeps_its_state(monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        first, second = accept(2)
    deliver = delivery.registry.deliver

    def deliver_and_receipt(message, **kwargs):
        result = deliver(message, **kwargs)
        if message.reference == str(first):  # a receipt for the first lands before the batch is written
            NotificationLog.objects.filter(pk=first).update(status="delivered")
        return result

    monkeypatch.setattr(delivery.registry, "deliver", deliver_and_receipt)
    logs_deliver(log_ids=[first, second])
    assert dict(NotificationLog.objects.filter(pk__in=[first, second]).values_list("pk", "status")) == {
        first: "delivered", second: "sent"}


def test_bulk_rows_carry_the_same_values_as_a_single_send(django_capture_on_commit_callbacks):
    UserPreference.objects.filter(user_id=2).update(sms_enabled=False)
    preference_update(user_id=3, quiet_hours_start="00:00", quiet_hours_end="23:59", timezone="UTC")
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = notification_send_bulk(user_ids=[1, 2, 3, 99], template_name="code_sms", context={"code": "7"},
                                           client="tests")
        single, *_ = notification_send(user_id=1, template_name="code_sms", context={"code": "7"}, client="tests")
    assert (result.accepted, result.suppressed, result.failed) == (2, 1, 1)
    logs = {log.user_id: log for log in NotificationLog.objects.filter(batch_id=result.batch_id)}
    same = ("template_id", "template_name", "template_version", "type", "status", "priority", "recipient",
            "subject", "body", "html_body", "client", "attempts", "scheduled_for", "error_message")
    assert {f: getattr(logs[1], f) for f in same} == {f: getattr(single, f) for f in same}
    assert logs[1].queued_at is not None and logs[1].created_at is not None
    assert logs[2].status == "suppressed" and "turned off sms" in logs[2].error_message
    assert logs[3].scheduled_for is not None and logs[3].queued_at is None  # inside quiet hours
    assert logs[99].status == "failed" and logs[99].recipient == ""


def test_a_batch_whose_lease_runs_short_releases_the_rest_unsent(monkeypatch, settings, fake_twilio,
                                                                  django_capture_on_commit_callbacks):
    """A send never starts without NOTIFICATION_LEASE_MARGIN_SECONDS of lease left: a slow batch writes
    what it sent and gives the rest back (pending, unleased, attempt not counted) instead of sending it."""
    settings.NOTIFICATION_LEASE_SECONDS, settings.NOTIFICATION_LEASE_MARGIN_SECONDS = 120, 30
    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(5)
    clock = {"now": delivery.timezone.now()}
    real_now = delivery.timezone.now
    monkeypatch.setattr(delivery.timezone, "now", lambda: clock["now"])
    deliver = delivery.registry.deliver

    def slow_deliver(message, **kwargs):  # each send takes 50 s: the third would start with 20 s of lease left
        clock["now"] += delivery.dt.timedelta(seconds=50)
        return deliver(message, **kwargs)

    monkeypatch.setattr(delivery.registry, "deliver", slow_deliver)
    assert logs_deliver(log_ids=ids) == {"sent": 2, "released": 3}
    monkeypatch.setattr(delivery.timezone, "now", real_now)
    assert len(fake_twilio.requests) == 2
    logs = {log.pk: log for log in NotificationLog.objects.filter(pk__in=ids)}
    assert [logs[pk].status for pk in ids] == ["sent", "sent", "pending", "pending", "pending"]
    for pk in ids[2:]:
        assert (logs[pk].lease_expires_at, logs[pk].attempts) == (None, 0)
    # Released logs are due again at once: another delivery takes and sends them.
    assert logs_deliver(log_ids=ids) == {"sent": 3}
    assert len(fake_twilio.requests) == 5


def test_a_dropped_connection_while_recording_sent_is_retried(monkeypatch, fake_twilio,
                                                              django_capture_on_commit_callbacks):
    """The provider took the messages, then the database went away: the `sent` write is retried
    (on a fresh connection outside a transaction) instead of leaving the logs to be sent again."""
    from django.db import OperationalError

    with django_capture_on_commit_callbacks(execute=False):
        ids = accept(3)
    monkeypatch.setattr(delivery.time, "sleep", lambda seconds: None)
    failures = []

    def drop_first_sent_write(execute, sql, params, many, context):
        if sql.startswith("WITH v") and not failures:
            failures.append(sql)
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(drop_first_sent_write):
        assert logs_deliver(log_ids=ids) == {"sent": 3}
    assert len(failures) == 1  # the first try failed; the retry wrote every outcome
    assert set(NotificationLog.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"sent"}
    assert len(fake_twilio.requests) == 3
