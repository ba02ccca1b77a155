"""manage.py send_test_notification, as an operator runs it."""

import io

import pytest
from django.core.management import CommandError, call_command

from logs_app.models import NotificationLog
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("send_test_notification", *args, stdout=out)
    return out.getvalue()


def test_without_a_context_the_templates_example_values_are_sent():
    factories.NotificationTemplateFactory(name="welcome", type="sms", subject="", body="Hi {{ first_name }}",
                                          variables={"first_name": "Ada"})
    factories.UserPreferenceFactory(user_id=1001, phone_number="+4915112345678")
    output = run("--user-id", "1001", "--template", "welcome")
    log = NotificationLog.objects.get()
    assert (log.type, log.recipient, log.body) == ("sms", "+4915112345678", "Hi Ada")
    assert output.startswith(f"Log #{log.pk}: sms to user 1001 (+4915112345678) with welcome v1\n")
    assert output.rstrip().endswith(f"Status: {log.status}")


def test_urgent_and_an_in_app_channel_are_taken_from_the_options():
    factories.NotificationTemplateFactory(name="bell", type="in_app", subject="Hello", body="Hi {{ first_name }}",
                                          variables={"first_name": "Ada"})
    factories.UserPreferenceFactory(user_id=1001)
    run("--user-id", "1001", "--template", "bell", "--channel", "in_app", "--context", '{"first_name": "Bo"}',
        "--urgent")
    log = NotificationLog.objects.get()
    assert (log.type, log.priority, log.body) == ("in_app", "urgent", "Hi Bo")


def test_a_context_that_is_not_json_names_the_option():
    with pytest.raises(CommandError, match="--context is not valid JSON: Expecting value at column 1"):
        run("--user-id", "1001", "--template", "welcome", "--context", "nope")
    assert not NotificationLog.objects.exists()


def test_a_refused_send_names_the_field_and_the_reason():
    with pytest.raises(CommandError, match="^template_name: .*nope"):
        run("--user-id", "1001", "--template", "nope")


def test_a_send_in_quiet_hours_says_it_waits_for_their_end():
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    factories.NotificationTemplateFactory(name="welcome", type="sms", subject="", body="Hi", variables={})
    factories.UserPreferenceFactory(user_id=1001, phone_number="+4915112345678",
                                    quiet_hours_start=(now - dt.timedelta(hours=1)).time(),
                                    quiet_hours_end=(now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0))
    output = run("--user-id", "1001", "--template", "welcome")
    log = NotificationLog.objects.get()
    assert f"Deferred until {log.scheduled_for.isoformat()} (quiet hours);" in output
