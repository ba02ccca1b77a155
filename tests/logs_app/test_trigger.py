"""Triggering a kind (logs_app/pipeline/trigger.py): one log per recipient and allowed channel, linked."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core import mail

from kinds_app.models import Category
from logs_app.models import NotificationLog, Trigger
from logs_app.pipeline.request import RepeatWithOtherRequest
from logs_app.pipeline.trigger import notification_trigger
from preferences_app.categories import settings_update
from tests import factories

pytestmark = pytest.mark.django_db

CONTEXT = {"first_name": "Ada", "code": "1234"}


@pytest.fixture
def kind():
    return factories.NotificationKindFactory(key="order_shipped")


@pytest.fixture
def ada():
    preference = factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    factories.DeviceFactory(preference=preference)
    return preference


@pytest.fixture
def trigger(django_capture_on_commit_callbacks):
    """notification_trigger, with what it queues after the commit run (in process, as tasks run here)."""

    def run(**arguments):
        with django_capture_on_commit_callbacks(execute=True):
            return notification_trigger(**arguments)

    return run


def logs_of(trigger_id) -> dict[str, NotificationLog]:
    return {log.type: log for log in NotificationLog.objects.filter(trigger_id=trigger_id)}


def test_a_category_turned_off_suppresses_that_channel_only_naming_the_rule(kind, ada, trigger):
    settings_update(user_id=1001, categories={"transactional": {"sms": False}})
    result, created = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="c")
    assert created and result.trigger.kind_key == "order_shipped"
    logs = logs_of(result.trigger.id)
    assert sorted(logs) == ["email", "push", "sms"]
    assert logs["sms"].status == "suppressed"
    assert logs["sms"].error_message == "Suppressed: The user turned off sms for the category 'transactional'."
    assert logs["email"].status == "sent" and logs["push"].status == "sent"  # tasks run in process here
    assert [m.to for m in mail.outbox] == [["ada@example.com"]] and mail.outbox[0].subject == "Hello Ada"
    assert [(o.channel, o.status) for o in result.outcomes[1001]] == [
        ("email", "pending"), ("push", "pending"), ("sms", "suppressed")]
    assert (result.trigger.accepted, result.trigger.suppressed, result.trigger.failed) == (2, 1, 0)


def test_a_critical_kind_reaches_a_user_who_turned_its_category_off(kind, ada, trigger):
    kind.critical = True
    kind.save()
    settings_update(user_id=1001, categories={"transactional": {"sms": False, "email": False}})
    result, _ = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT)
    assert {log.status for log in logs_of(result.trigger.id).values()} == {"sent"}


def test_quiet_hours_still_defer_a_critical_kind_unless_urgent(kind, ada, trigger):
    kind.critical = True
    kind.save()
    now = dt.datetime.now(dt.timezone.utc)
    ada.quiet_hours_start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    ada.quiet_hours_end = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    ada.save()
    result, _ = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT)
    assert all(log.status == "pending" and log.scheduled_for for log in logs_of(result.trigger.id).values())
    result, _ = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, priority="urgent")
    assert {log.status for log in logs_of(result.trigger.id).values()} == {"sent"}


def test_a_user_listed_twice_is_notified_once(kind, ada):
    result, _ = notification_trigger(kind="order_shipped", user_ids=[1001, 1001, 2002], context=CONTEXT)
    assert result.trigger.recipients == 2
    assert NotificationLog.objects.filter(trigger_id=result.trigger.id, user_id=1001).count() == 3
    # No address on file for user 2002: failed, saying so, the others still go.
    assert {o.status for o in result.outcomes[2002]} == {"failed"}


def test_a_missing_variable_refuses_the_whole_trigger(kind, ada):
    with pytest.raises(ValidationError) as caught:
        notification_trigger(kind="order_shipped", user_ids=[1001], context={"first_name": "Ada"})
    assert "code" in str(caught.value)
    assert not Trigger.objects.exists() and not NotificationLog.objects.exists()


@pytest.mark.parametrize(("arguments", "field"), [
    ({"kind": "nope"}, "kind"),
    ({"user_ids": []}, "user_ids"),
    ({"user_ids": [0]}, "user_ids"),
    ({"cancellation_key": ""}, "cancellation_key"),
    ({"priority": "now"}, "priority"),
])
def test_bad_requests_name_the_field(kind, arguments, field):
    with pytest.raises(ValidationError) as caught:
        notification_trigger(**{"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT, **arguments})
    assert field in caught.value.message_dict


def test_the_same_key_and_body_returns_the_first_trigger_another_body_is_refused(kind, ada):
    first, created = notification_trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="c",
                                          idempotency_key="order-42")
    again, created_again = notification_trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="c",
                                                idempotency_key="order-42")
    assert created and not created_again and again.trigger.id == first.trigger.id
    assert NotificationLog.objects.count() == 3
    with pytest.raises(RepeatWithOtherRequest) as caught:
        notification_trigger(kind="order_shipped", user_ids=[1001], context={**CONTEXT, "code": "9"}, client="c",
                             idempotency_key="order-42")
    assert "idempotency_key" in caught.value.message_dict
    other, created = notification_trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="d",
                                          idempotency_key="order-42")
    assert created and other.trigger.id != first.trigger.id


def test_a_key_older_than_a_day_may_be_used_again(kind, ada):
    first, _ = notification_trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, idempotency_key="k")
    Trigger.objects.filter(pk=first.trigger.pk).update(created_at=first.trigger.created_at - dt.timedelta(hours=25))
    second, created = notification_trigger(kind="order_shipped", user_ids=[1001], context={**CONTEXT, "code": "2"},
                                           idempotency_key="k")
    assert created and second.trigger.id != first.trigger.id


def test_a_category_off_by_default_is_suppressed_until_the_user_turns_it_on(ada):
    Category.objects.filter(key="marketing").update(enabled_by_default=False)
    factories.NotificationKindFactory(key="spring_sale", category=Category.objects.get(key="marketing"),
                                      channels=["email"])
    result, _ = notification_trigger(kind="spring_sale", user_ids=[1001], context=CONTEXT)
    assert result.outcomes[1001][0].reason == "Suppressed: The category 'marketing' is off unless the user turns it on."


def test_cancelling_suppresses_pending_logs_and_leaves_sent_ones(kind, ada, trigger):
    from logs_app.pipeline.cancel import trigger_cancel

    sent, _ = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="c", cancellation_key="order-42")
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    scheduled, _ = trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT, client="c",
                           cancellation_key="order-42", send_at=later)
    result = trigger_cancel(client="c", cancellation_key="order-42")
    assert (result.triggers, result.cancelled) == (2, 3)
    assert {log.status for log in logs_of(sent.trigger.id).values()} == {"sent"}
    cancelled = logs_of(scheduled.trigger.id)
    assert {log.status for log in cancelled.values()} == {"suppressed"}
    assert cancelled["email"].error_message == (
        "Cancelled: the trigger was cancelled (cancellation key 'order-42').")
    assert trigger_cancel(client="c", cancellation_key="order-42").cancelled == 0
    with pytest.raises(Trigger.DoesNotExist):
        trigger_cancel(client="other", cancellation_key="order-42")


def test_a_topic_member_also_named_directly_is_notified_once(kind, ada):
    from kinds_app.topics import topic_subscribe

    topic_subscribe(key="project-42-watchers", user_ids=[1001, 3003, 2002])
    result, _ = notification_trigger(kind="order_shipped", user_ids=[1001], topics=["project-42-watchers"],
                                     context=CONTEXT)
    assert result.trigger.recipients == 3
    assert sorted(result.outcomes) == [1001, 2002, 3003]
    assert NotificationLog.objects.filter(trigger_id=result.trigger.id, user_id=1001).count() == 3


def test_a_trigger_names_at_least_one_recipient_and_known_topics(kind):
    with pytest.raises(ValidationError) as caught:
        notification_trigger(kind="order_shipped", context=CONTEXT)
    assert list(caught.value.message_dict) == ["user_ids"]
    with pytest.raises(ValidationError) as caught:
        notification_trigger(kind="order_shipped", topics=["nope"], context=CONTEXT)
    assert caught.value.message_dict == {"topics": ["No topic with the key 'nope'."]}


def test_an_address_on_the_suppression_list_is_suppressed_even_for_a_critical_kind(kind, ada):
    from consent_app.services import suppression_add

    kind.critical = True
    kind.save()
    suppression_add(channel="email", address="ADA@example.com", reason="hard_bounce")
    result, _ = notification_trigger(kind="order_shipped", user_ids=[1001], context=CONTEXT)
    email = logs_of(result.trigger.id)["email"]
    assert email.status == "suppressed" and "suppression list" in email.error_message
    assert logs_of(result.trigger.id)["sms"].status == "pending"
