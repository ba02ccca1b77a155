"""manage.py trigger, as an operator runs it."""

import io

import pytest
from django.core.management import CommandError, call_command

from preferences_app.categories import settings_update
from tests import factories

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_command_prints_each_channels_outcome():
    factories.NotificationKindFactory(key="order_shipped")
    preference = factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    factories.DeviceFactory(preference=preference)
    settings_update(user_id=1001, categories={"transactional": {"sms": False}})
    # Run outside a test's transaction, delivery would run before the command reads the logs back; here
    # the logs are read inside it, so they are still pending.
    output = run("trigger", "order_shipped", "--user-id", "1001")
    lines = output.strip().splitlines()
    assert lines[0].startswith("Trigger ") and lines[0].endswith(": order_shipped for 1 user(s)")
    assert lines[1].startswith("  user 1001 email: pending (log #")
    assert lines[2].startswith("  user 1001 push: pending (log #")
    assert lines[3].startswith("  user 1001 sms: suppressed") and "category 'transactional'" in lines[3]
    assert lines[-1] == "Accepted 2, suppressed 1, failed 0"


def test_the_command_names_a_bad_kind():
    with pytest.raises(CommandError, match="kind: No kind with the key 'nope'"):
        run("trigger", "nope", "--user-id", "1")
