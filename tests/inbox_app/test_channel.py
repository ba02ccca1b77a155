"""The in-app channel: a trigger or a send of an in-app template puts a message in the user's feed, through
preferences, quiet hours and the log like every other channel."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inbox_app.events import feed_changed
from inbox_app.models import FeedMessage
from inbox_app.services import FeedCounts, feed_counts_get
from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.deliver import log_deliver
from preferences_app.categories import settings_update
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_triggered_kind_puts_its_message_in_the_feed_and_counts_it(in_app_kind, trigger):
    context = {"first_name": "Ada", "code": "1234", "action_url": "/orders/1234", "data": {"order": 1234}}
    result, _ = trigger(kind="order_shipped", user_ids=[1001], context=context)
    log = NotificationLog.objects.get(trigger_id=result.trigger.id)
    assert (log.type, log.status, log.recipient, log.provider) == ("in_app", "sent", "1001", "feed")
    message = FeedMessage.objects.get(user_id=1001)
    assert message.title == "Order 1234 shipped"
    assert message.body.startswith("**Hi Ada**")
    assert message.body_html == ('<p><strong>Hi Ada</strong>, it is on its way. <a href="https://shop.example/'
                                 'track/1234" rel="noopener noreferrer nofollow">Track it</a></p>')
    assert (message.action_url, message.data) == ("/orders/1234", {"order": 1234})
    assert (message.kind, message.category, message.log_id) == ("order_shipped", "transactional", log.pk)
    assert log.provider_message_id == str(message.pk)
    assert log.notification_metadata["feed_message_id"] == message.pk
    assert feed_counts_get(user_id=1001) == FeedCounts(1, 1)


def test_a_single_send_of_an_in_app_template_goes_to_the_named_users_feed(in_app_template,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        log, created, _ = notification_send(user_id=1002, template_name="order_shipped_in_app",
                                         context={"first_name": "Bo", "code": "7"}, recipient="someone@else")
    assert created and log.recipient == "1002"
    log.refresh_from_db()
    assert log.status == "sent"
    assert list(FeedMessage.objects.values_list("user_id", "title")) == [(1002, "Order 7 shipped")]


def test_markdown_cannot_carry_a_script_or_a_javascript_link(in_app_template, django_capture_on_commit_callbacks):
    in_app_template.body = ('<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> '
                            '{{ first_name }}')
    in_app_template.save()
    with django_capture_on_commit_callbacks(execute=True):
        notification_send(user_id=1001, template_name="order_shipped_in_app",
                          context={"first_name": "<b onclick=x>Ada</b>", "code": "1"})
    html = FeedMessage.objects.get().body_html
    assert "<script" not in html and "<img" not in html and "<b " not in html and "href" not in html
    assert html.startswith("<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))")  # text, not run


@pytest.mark.parametrize("url, problem", [
    ("javascript:alert(1)", "Must be an http(s) URL or a path starting with a single '/'."),
    ("//evil.example/x", "Must be an http(s) URL or a path starting with a single '/'."),
    ("/a b", "Must not hold spaces or control characters."),
    (42, "Must be a string."),
])
def test_a_bad_action_url_is_refused_naming_it(in_app_template, url, problem):
    with pytest.raises(ValidationError) as refused:
        notification_send(user_id=1001, template_name="order_shipped_in_app",
                          context={"first_name": "Ada", "code": "1", "action_url": url})
    assert refused.value.message_dict == {"context.action_url": [problem]}
    assert not NotificationLog.objects.exists()


def test_data_must_be_an_object(in_app_template):
    with pytest.raises(ValidationError) as refused:
        notification_send(user_id=1001, template_name="order_shipped_in_app",
                          context={"first_name": "Ada", "code": "1", "data": [1]})
    assert refused.value.message_dict == {"context.data": ["Must be a JSON object."]}


def test_a_user_who_turned_in_app_off_for_the_category_gets_a_suppressed_log_and_no_message(in_app_kind, trigger):
    settings_update(user_id=1001, categories={"transactional": {"in_app": False}})
    result, _ = trigger(kind="order_shipped", user_ids=[1001, 1002])
    statuses = dict(NotificationLog.objects.filter(trigger_id=result.trigger.id).values_list("user_id", "status"))
    assert statuses == {1001: "suppressed", 1002: "sent"}
    assert list(FeedMessage.objects.values_list("user_id", flat=True)) == [1002]


def test_the_in_app_switch_suppresses_single_sends(in_app_template):
    factories.UserPreferenceFactory(user_id=1001, in_app_enabled=False)
    log, *_ = notification_send(user_id=1001, template_name="order_shipped_in_app",
                               context={"first_name": "Ada", "code": "1"})
    assert log.status == "suppressed" and log.error_message == "Suppressed: the user turned off in_app notifications."
    assert not FeedMessage.objects.exists()


def test_quiet_hours_hold_the_message_back_until_they_end(in_app_kind, trigger):
    now = timezone.now()
    factories.UserPreferenceFactory(user_id=1001, quiet_hours_start=(now - dt.timedelta(hours=1)).time(),
                                    quiet_hours_end=(now + dt.timedelta(hours=1)).time(), timezone="UTC")
    result, _ = trigger(kind="order_shipped", user_ids=[1001])
    log = NotificationLog.objects.get(trigger_id=result.trigger.id)
    assert log.status == "pending" and log.scheduled_for > now
    assert not FeedMessage.objects.exists() and feed_counts_get(user_id=1001) == FeedCounts(0, 0)


def test_a_log_delivered_twice_writes_one_message(in_app_kind, trigger):
    result, _ = trigger(kind="order_shipped", user_ids=[1001])
    log = NotificationLog.objects.get(trigger_id=result.trigger.id)
    NotificationLog.objects.filter(pk=log.pk).update(status="pending")  # as if the `sent` write was lost
    log.refresh_from_db()
    assert log_deliver(log=log) == "sent"
    assert FeedMessage.objects.count() == 1 and feed_counts_get(user_id=1001) == FeedCounts(1, 1)


def test_the_hook_hears_the_new_message_inside_its_transaction(in_app_kind, trigger):
    heard = []

    def listen(sender, change, **kwargs):
        heard.append((change.user_id, change.action, change.unread, change.unseen,
                      FeedMessage.objects.filter(pk__in=change.message_ids).count()))

    feed_changed.connect(listen)
    try:
        trigger(kind="order_shipped", user_ids=[1001])
    finally:
        feed_changed.disconnect(listen)
    assert heard == [(1001, "created", 1, 1, 1)]


def test_a_bulk_send_of_an_in_app_template_reaches_each_feed_with_its_link(in_app_template,
                                                                          django_capture_on_commit_callbacks):
    from logs_app.pipeline.bulk import notification_send_bulk

    factories.UserPreferenceFactory(user_id=1003, in_app_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        notification_send_bulk(user_ids=[1001, 1002, 1003], template_name="order_shipped_in_app",
                               context={"first_name": "Ada", "code": "9", "action_url": "https://shop.example/9",
                                        "data": {"order": 9}})
    assert sorted(NotificationLog.objects.values_list("user_id", "recipient", "status")) == [
        (1001, "1001", "sent"), (1002, "1002", "sent"), (1003, "1003", "suppressed")]
    assert sorted(FeedMessage.objects.values_list("user_id", "action_url", "data")) == [
        (1001, "https://shop.example/9", {"order": 9}), (1002, "https://shop.example/9", {"order": 9})]
