"""The pipeline's hook: `logs_changed` tells receivers of every change of a log's status, once, in its transaction."""

import pytest
from django.core.exceptions import ValidationError

from logs_app.models import NotificationLog
from logs_app.pipeline.events import logs_changed
from logs_app.privacy import user_data_erase
from logs_app.pipeline import bulk, deliver
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from logs_app.pipeline.deliver import logs_deliver
from logs_app.pipeline.receipts import log_record_receipt
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from tests.fakes.base import Answer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def setup(code_sms_users):
    pass


@pytest.fixture
def heard():
    """Every signal a receiver gets: a list of [(log_id, old_status, new_status), ...] per signal."""
    signals = []

    def receiver(sender, changes, **kwargs):
        signals.append([(change.log_id, change.old_status, change.new_status) for change in changes])

    logs_changed.connect(receiver, sender=NotificationLog)
    yield signals
    logs_changed.disconnect(receiver, sender=NotificationLog)


def send(user_id, capture, *, execute=True):
    with capture(execute=execute):
        log, *_ = notification_send(user_id=user_id, template_name="code_sms", context={"code": "1"}, client="t")
    return log


def test_a_send_is_heard_accepted_then_sent(heard, django_capture_on_commit_callbacks):
    log = send(1, django_capture_on_commit_callbacks)
    assert heard == [[(log.pk, "", "pending")], [(log.pk, "pending", "sent")]]


def test_a_suppressed_send_is_heard_once(heard, django_capture_on_commit_callbacks):
    log = send(2, django_capture_on_commit_callbacks)
    assert heard == [[(log.pk, "", "suppressed")]]


def test_a_repeated_idempotency_key_is_not_heard_again(heard):
    first, *_ = notification_send(user_id=1, template_name="code_sms", context={"code": "1"}, idempotency_key="k")
    again, created, _ = notification_send(user_id=1, template_name="code_sms", context={"code": "1"}, idempotency_key="k")
    assert (again.pk, created) == (first.pk, False)
    assert heard == [[(first.pk, "", "pending")]]


def test_a_retry_is_not_a_change_and_the_failure_is(heard, fake_twilio, settings, django_capture_on_commit_callbacks):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    for _ in range(2):
        fake_twilio.enqueue(Answer(status=503, json={"code": 20500, "message": "down", "status": 503}))
    log = send(1, django_capture_on_commit_callbacks, execute=False)
    assert logs_deliver(log_ids=[log.pk]) == {"pending": 1}
    NotificationLog.objects.filter(pk=log.pk).update(scheduled_for=None)
    assert logs_deliver(log_ids=[log.pk]) == {"failed": 1}
    assert heard == [[(log.pk, "", "pending")], [(log.pk, "pending", "failed")]]


def test_sent_logs_written_together_are_heard_together_and_only_those_still_pending(
        heard, django_capture_on_commit_callbacks):
    preference_update(user_id=3, phone_number="+4915112345603")
    first, second = (send(user_id, django_capture_on_commit_callbacks, execute=False) for user_id in (1, 3))
    heard.clear()

    log_deliver = deliver.log_deliver

    def deliver_then_move_on(*, log, **kwargs):
        status = log_deliver(log=log, **kwargs)
        if log.pk == second.pk:  # before the `sent` write, another hand (a receipt, an erasure) moves it on
            NotificationLog.objects.filter(pk=second.pk).update(status="suppressed")
        return status

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(deliver, "log_deliver", deliver_then_move_on)
        assert logs_deliver(log_ids=[first.pk, second.pk]) == {"sent": 2}
    assert heard == [[(first.pk, "pending", "sent")]]


def test_receipts_are_heard_and_never_twice(heard, django_capture_on_commit_callbacks):
    log = send(1, django_capture_on_commit_callbacks)
    log.refresh_from_db()
    heard.clear()
    assert log_record_receipt(provider="twilio", message_id=log.provider_message_id, status="delivered") == 1
    assert log_record_receipt(provider="twilio", message_id=log.provider_message_id, status="delivered") == 0
    assert heard == [[(log.pk, "sent", "delivered")]]


def test_a_bulk_send_is_heard_once_per_chunk_with_every_row(heard, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(bulk, "BULK_CHUNK", 2)
    with django_capture_on_commit_callbacks(execute=False):
        notification_send_bulk(user_ids=[1, 2, 3], template_name="code_sms", context={"code": "1"})
    ids = dict(NotificationLog.objects.values_list("user_id", "id"))
    assert heard == [[(ids[1], "", "pending"), (ids[2], "", "suppressed")], [(ids[3], "", "failed")]]


def test_erasure_is_heard_as_the_pending_logs_cancelled(heard, django_capture_on_commit_callbacks):
    log = send(1, django_capture_on_commit_callbacks, execute=False)
    heard.clear()
    user_data_erase(user_id=1)
    assert heard == [[(log.pk, "pending", "suppressed")]]


def test_a_receivers_write_rolls_back_with_the_change(django_capture_on_commit_callbacks):
    def write_then_fail(sender, changes, **kwargs):
        UserPreference.objects.create(user_id=4242)
        raise ValidationError("the receiver refused")

    logs_changed.connect(write_then_fail, sender=NotificationLog)
    try:
        with pytest.raises(ValidationError):
            send(1, django_capture_on_commit_callbacks)
    finally:
        logs_changed.disconnect(write_then_fail, sender=NotificationLog)
    assert not NotificationLog.objects.exists()
    assert not UserPreference.objects.filter(user_id=4242).exists()


def test_a_change_carries_what_a_receiver_needs(django_capture_on_commit_callbacks):
    received = []
    logs_changed.connect(lambda sender, changes, **kwargs: received.extend(changes), sender=NotificationLog, weak=False,
                         dispatch_uid="carries")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            log, *_ = notification_send(user_id=1, template_name="code_sms", context={"code": "1"}, client="t",
                                       idempotency_key="abc")
    finally:
        logs_changed.disconnect(sender=NotificationLog, dispatch_uid="carries")
    accepted, sent = received
    assert (accepted.log_id, accepted.user_id, accepted.channel, accepted.template_name) == (log.pk, 1, "sms", "code_sms")
    assert (accepted.idempotency_key, accepted.batch_id, accepted.at is not None) == ("abc", None, True)
    assert (sent.provider, sent.error_message, sent.idempotency_key) == ("twilio", None, "abc")
    assert (accepted.client, sent.client, sent.trigger_id) == ("t", "t", None)
