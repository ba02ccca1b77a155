"""The rollup (logs_app/rollup.py): counts per hour, channel, provider and status that always equal a real count
of the logs, whatever moved them (sends, retries, bulk, triggers, receipts, cancels, erasure, purge)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from logs_app.models import LogCount, NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from logs_app.pipeline.cancel import trigger_cancel
from logs_app.pipeline.deliver import logs_deliver
from logs_app.pipeline.receipts import log_record_receipt
from logs_app.pipeline.trigger import notification_trigger
from logs_app.privacy import logs_purge, user_data_erase
from logs_app.rollup import counts_compare, hour_of, rollup_counts
from preferences_app.services import preference_update
from tests import factories
from tests.fakes.base import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(code_sms_users):
    preference_update(user_id=3, phone_number="+4915112345603")


def assert_rollup_is_the_real_count():
    assert counts_compare(None, None) == []


def by_status() -> dict[str, int]:
    totals: dict[str, int] = {}
    for (_, _, _, status), n in rollup_counts(None, None).items():
        totals[status] = totals.get(status, 0) + n
    return totals


def send(user_id, capture, *, execute=True, **extra):
    with capture(execute=execute):
        log, *_ = notification_send(user_id=user_id, template_name="code_sms", context={"code": "1"}, client="t",
                                   **extra)
    return log


def test_sends_move_their_count_from_pending_to_the_outcome(django_capture_on_commit_callbacks):
    sent = send(1, django_capture_on_commit_callbacks)
    send(2, django_capture_on_commit_callbacks)  # suppressed by the user's choice
    waiting = send(3, django_capture_on_commit_callbacks, execute=False)
    assert by_status() == {"sent": 1, "suppressed": 1, "pending": 1}
    hour = hour_of(NotificationLog.objects.get(pk=sent.pk).created_at)
    assert rollup_counts(None, None)[(hour, "sms", "twilio", "sent")] == 1
    assert rollup_counts(None, None)[(hour, "sms", "", "pending")] == 1
    logs_deliver(log_ids=[waiting.pk])
    assert by_status() == {"sent": 2, "suppressed": 1}
    assert_rollup_is_the_real_count()


def test_a_retry_names_a_provider_yet_the_pending_log_counts_once(fake_twilio, settings,
                                                                   django_capture_on_commit_callbacks):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    for _ in range(2):
        fake_twilio.enqueue(Answer(status=503, json={"code": 20500, "message": "down", "status": 503}))
    log = send(1, django_capture_on_commit_callbacks, execute=False)
    assert logs_deliver(log_ids=[log.pk]) == {"pending": 1}
    assert_rollup_is_the_real_count()
    NotificationLog.objects.filter(pk=log.pk).update(scheduled_for=None)
    assert logs_deliver(log_ids=[log.pk]) == {"failed": 1}
    assert by_status() == {"failed": 1}
    assert_rollup_is_the_real_count()


def test_receipts_move_sent_to_delivered_or_bounced(django_capture_on_commit_callbacks):
    first, second = (send(user_id, django_capture_on_commit_callbacks) for user_id in (1, 3))
    first.refresh_from_db()
    second.refresh_from_db()
    log_record_receipt(provider="twilio", message_id=first.provider_message_id, status="delivered")
    log_record_receipt(provider="twilio", message_id=first.provider_message_id, status="delivered")  # again: nothing
    log_record_receipt(provider="twilio", message_id=second.provider_message_id, status="failed", error="30003")
    assert by_status() == {"delivered": 1, "failed": 1}
    assert_rollup_is_the_real_count()


def test_a_bulk_send_and_its_deliveries(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification_send_bulk(user_ids=[1, 2, 3, 4], template_name="code_sms", context={"code": "1"})
    assert by_status() == {"sent": 2, "suppressed": 1, "failed": 1}  # user 4 has no number on file
    assert_rollup_is_the_real_count()


def test_triggers_and_their_cancellation(django_capture_on_commit_callbacks):
    factories.NotificationKindFactory(key="order_shipped")
    preference = factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    factories.DeviceFactory(preference=preference)
    context = {"first_name": "Ada", "code": "1234"}
    with django_capture_on_commit_callbacks(execute=True):
        notification_trigger(kind="order_shipped", user_ids=[1001], context=context, client="c")
        notification_trigger(kind="order_shipped", user_ids=[1001, 1002], context=context, client="c",
                             cancellation_key="k", send_at=timezone.now() + dt.timedelta(hours=1))
    assert_rollup_is_the_real_count()
    assert trigger_cancel(client="c", cancellation_key="k").cancelled > 0
    assert "pending" not in by_status()
    assert_rollup_is_the_real_count()


def test_erasure_cancels_pending_logs_in_the_rollup_too(django_capture_on_commit_callbacks):
    send(1, django_capture_on_commit_callbacks)
    send(1, django_capture_on_commit_callbacks, execute=False)
    user_data_erase(user_id=1, batch_size=1)
    assert by_status() == {"sent": 1, "suppressed": 1}
    assert_rollup_is_the_real_count()


def test_the_purge_takes_what_it_deletes_off_the_rollup(django_capture_on_commit_callbacks):
    old = [send(user_id, django_capture_on_commit_callbacks) for user_id in (1, 2, 3)]
    kept = send(1, django_capture_on_commit_callbacks, execute=False)  # pending: never purged
    NotificationLog.objects.filter(pk__in=[log.pk for log in [*old, kept]]).update(
        created_at=timezone.now() - dt.timedelta(days=100))
    call_command("log_counts_check", "--all", "--repair")  # the rollup follows the logs' new age
    send(3, django_capture_on_commit_callbacks)
    result = logs_purge(older_than_days=90, batch_size=2)
    assert result.by_status == {"sent": 2, "suppressed": 1}
    assert by_status() == {"pending": 1, "sent": 1}
    assert_rollup_is_the_real_count()
    # The rows left counting nothing (pending of the sent ones, and all that was purged) are gone too.
    assert not LogCount.objects.filter(count=0).exists()


def test_the_check_prints_each_difference_and_repair_rewrites_the_window(django_capture_on_commit_callbacks, capsys):
    log = send(1, django_capture_on_commit_callbacks)
    call_command("log_counts_check")
    assert "The rollup matches the logs" in capsys.readouterr().out
    NotificationLog.objects.filter(pk=log.pk).update(status="delivered")  # behind the rollup's back
    LogCount.objects.create(hour=hour_of(timezone.now() - dt.timedelta(hours=100)), channel="email",
                            provider="smtp", status="sent", count=5)
    with pytest.raises(CommandError, match="2 differences between the rollup and the logs"):
        call_command("log_counts_check", "--hours", "2")
    out = capsys.readouterr().out
    assert f"{hour_of(log.created_at):%Y-%m-%d %H:00} sms twilio sent: rollup 1, logs 0" in out
    assert "sms twilio delivered: rollup 0, logs 1" in out
    with pytest.raises(CommandError, match="3 differences"):  # and the stray row of 100 hours ago
        call_command("log_counts_check", "--all")
    call_command("log_counts_check", "--hours", "2", "--repair")
    with pytest.raises(CommandError, match="1 difference"):
        call_command("log_counts_check", "--all")  # the old stray row is outside the 2 hours repaired
    call_command("log_counts_check", "--all", "--repair")
    call_command("log_counts_check", "--all")
    assert_rollup_is_the_real_count()


@pytest.mark.parametrize("arguments, message", [
    (["--hours", "0"], "--hours must be at least 1"),
    (["--since", "yesterday"], "is not a date or time"),
    (["--since", "2026-01-02", "--until", "2026-01-01"], "The window is empty"),
])
def test_the_check_refuses_a_bad_window(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("log_counts_check", *arguments)
