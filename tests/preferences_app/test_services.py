import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from preferences_app.models import Device, UserPreference
from preferences_app.services import (
    device_add, device_deactivate, device_remove, preference_get_or_create, preference_update, quiet_hours_end_for,
)

UTC = dt.timezone.utc


def test_first_read_creates_the_defaults(db):
    preference = preference_get_or_create(user_id=7)
    assert (preference.email_enabled, preference.sms_enabled, preference.push_enabled) == (True, True, True)
    assert (preference.quiet_hours_start, preference.timezone) == (None, "UTC")
    assert preference_get_or_create(user_id=7).pk == preference.pk
    assert UserPreference.objects.count() == 1


@pytest.mark.parametrize("user_id", [0, -1, 2**31, "7", True, None])
def test_user_id_must_be_a_positive_int(db, user_id):
    with pytest.raises(ValidationError) as excinfo:
        preference_get_or_create(user_id=user_id)
    assert "user_id" in excinfo.value.message_dict


def test_update_stores_quiet_hours_from_strings(db):
    preference = preference_update(user_id=7, quiet_hours_start="22:00", quiet_hours_end="07:30",
                                   timezone="Europe/Berlin", sms_enabled=False)
    preference.refresh_from_db()
    assert (preference.quiet_hours_start, preference.quiet_hours_end) == (dt.time(22), dt.time(7, 30))
    assert (preference.timezone, preference.sms_enabled) == ("Europe/Berlin", False)


@pytest.mark.parametrize("changes, field", [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"quiet_hours_start": "25:00", "quiet_hours_end": "07:00"}, "quiet_hours_start"),
    ({"quiet_hours_start": "22:00"}, "quiet_hours_start"),
    ({"phone_number": "12345"}, "phone_number"),
    ({"email": "not-an-address"}, "email"),
    ({"favourite_colour": "red"}, "favourite_colour"),
])
def test_invalid_updates_name_the_field_and_change_nothing(db, changes, field):
    with pytest.raises(ValidationError) as excinfo:
        preference_update(user_id=7, **changes)
    assert field in excinfo.value.message_dict
    assert not UserPreference.objects.filter(user_id=7).exists()  # the whole update rolled back


def quiet(start, end, tz="UTC") -> UserPreference:
    return UserPreference(user_id=1, quiet_hours_start=start, quiet_hours_end=end, timezone=tz)


def at(tz, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(tz))


def test_inside_a_same_day_window():
    preference = quiet(dt.time(12), dt.time(14))
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 1, 13, 0)) == at("UTC", 2026, 3, 1, 14, 0)
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 1, 14, 0)) is None
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 1, 11, 59)) is None


def test_window_crossing_midnight_before_and_after_midnight():
    preference = quiet(dt.time(22), dt.time(7))
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 1, 23, 30)) == at("UTC", 2026, 3, 2, 7, 0)
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 2, 3, 0)) == at("UTC", 2026, 3, 2, 7, 0)
    assert quiet_hours_end_for(preference, at("UTC", 2026, 3, 2, 12, 0)) is None


def test_quiet_hours_are_in_the_users_timezone():
    preference = quiet(dt.time(22), dt.time(7), tz="Asia/Tokyo")
    # 14:00 UTC is 23:00 in Tokyo: inside; the window ends 07:00 Tokyo = 22:00 UTC.
    assert quiet_hours_end_for(preference, at("UTC", 2026, 6, 1, 14, 0)) == at("UTC", 2026, 6, 1, 22, 0)
    # 23:00 UTC is 08:00 in Tokyo: outside.
    assert quiet_hours_end_for(preference, at("UTC", 2026, 6, 1, 23, 0)) is None


def test_window_across_spring_forward_ends_at_local_wall_time():
    preference = quiet(dt.time(22), dt.time(7), tz="Europe/Berlin")
    # Night of 28/29 March 2026: clocks go from 02:00 CET to 03:00 CEST.
    end = quiet_hours_end_for(preference, at("Europe/Berlin", 2026, 3, 28, 23, 0))
    assert end == at("UTC", 2026, 3, 29, 5, 0)  # 07:00 CEST (UTC+2)


def test_window_across_fall_back_ends_at_local_wall_time():
    preference = quiet(dt.time(22), dt.time(7), tz="America/New_York")
    # Night of 31 Oct / 1 Nov 2026: clocks go from 02:00 EDT back to 01:00 EST.
    end = quiet_hours_end_for(preference, at("America/New_York", 2026, 10, 31, 23, 0))
    assert end == at("UTC", 2026, 11, 1, 12, 0)  # 07:00 EST (UTC-5)


def test_end_time_skipped_by_dst_reads_as_if_the_clock_had_not_jumped():
    preference = quiet(dt.time(1), dt.time(2, 30), tz="Europe/Berlin")
    end = quiet_hours_end_for(preference, at("Europe/Berlin", 2026, 3, 29, 1, 30))
    assert end == at("UTC", 2026, 3, 29, 1, 30)  # 03:30 CEST, an hour after 01:30 CET


def test_equal_start_and_end_is_no_window():
    assert quiet_hours_end_for(quiet(dt.time(9), dt.time(9)), at("UTC", 2026, 1, 1, 9, 0)) is None


def test_no_quiet_hours():
    assert quiet_hours_end_for(quiet(None, None), at("UTC", 2026, 1, 1, 3, 0)) is None


def test_devices_add_reactivate_move_and_remove(db):
    device = device_add(user_id=7, platform="ios", token="ab" * 32)
    assert device_deactivate(platform="ios", token="ab" * 32) == 1
    assert not Device.objects.get(pk=device.pk).active
    moved = device_add(user_id=8, platform="ios", token="ab" * 32)
    assert (moved.pk, moved.preference.user_id, moved.active) == (device.pk, 8, True)
    with pytest.raises(Device.DoesNotExist):
        device_remove(user_id=7, device_id=device.pk)
    device_remove(user_id=8, device_id=device.pk)
    assert not Device.objects.exists()


@pytest.mark.parametrize("platform, token, field", [("ios", "", "token"), ("ios", "a b", "token"),
                                                    ("blackberry", "abc", "platform")])
def test_invalid_devices_are_refused(db, platform, token, field):
    with pytest.raises(ValidationError) as excinfo:
        device_add(user_id=7, platform=platform, token=token)
    assert field in excinfo.value.message_dict
