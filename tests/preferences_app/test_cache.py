"""A user's preferences through the shared cache: read once, cleared by every save and delete."""

import pytest

from preferences_app.models import UserPreference
from preferences_app.services import preference_get_or_create, preference_update

# Outside a test transaction, so that rows are cached and on-commit clearing runs as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_preferences_are_read_from_the_database_once(django_assert_num_queries):
    preference_update(user_id=1001, phone_number="+4915112345678", quiet_hours_start="22:00",
                      quiet_hours_end="07:00", timezone="Europe/Berlin")
    preference_get_or_create(user_id=1001)
    with django_assert_num_queries(0):
        cached = preference_get_or_create(user_id=1001)
    assert str(cached.phone_number) == "+4915112345678" and cached.timezone == "Europe/Berlin"
    assert cached.quiet_hours_start.hour == 22 and cached.channel_enabled("sms")


@pytest.mark.parametrize("number", ["+4915112345678", "+390612345678", "+14155550123"])
def test_a_cached_number_reads_as_it_was_saved(number, django_assert_num_queries):
    """Italian numbers keep their leading zero; the cached number formats exactly as the stored one."""
    preference_update(user_id=1001, phone_number=number)
    stored = preference_get_or_create(user_id=1001)
    with django_assert_num_queries(0):
        cached = preference_get_or_create(user_id=1001)
    assert cached.phone_e164 == stored.phone_e164 == number
    assert cached.phone_number == stored.phone_number and str(cached.phone_number) == number


def test_a_user_without_a_number_has_none_cached():
    preference_get_or_create(user_id=1001)
    assert preference_get_or_create(user_id=1001).phone_e164 == ""


def test_an_update_is_seen_by_the_next_send():
    preference_get_or_create(user_id=1001)
    preference_update(user_id=1001, sms_enabled=False)
    assert not preference_get_or_create(user_id=1001).sms_enabled


def test_a_deleted_row_is_forgotten():
    first = preference_get_or_create(user_id=1001)
    UserPreference.objects.filter(user_id=1001).delete()
    again = preference_get_or_create(user_id=1001)
    assert again.pk != first.pk and UserPreference.objects.filter(pk=again.pk).exists()


def test_a_save_outside_the_services_clears_it_too():
    preference = preference_get_or_create(user_id=1001)
    preference.email = "new@example.com"
    preference.save()  # as the admin does
    assert preference_get_or_create(user_id=1001).email == "new@example.com"
