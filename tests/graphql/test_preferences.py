"""Preference query and mutation (preferences_app/schema.py)."""

import datetime as dt

import pytest

from preferences_app.models import UserPreference
from tests.graphql.conftest import error_codes

PREFERENCES = """
query($userId: Int!) {
  userPreferences(userId: $userId) {
    userId emailEnabled smsEnabled pushEnabled quietHoursStart quietHoursEnd timezone email phoneNumber
  }
}
"""

UPDATE = """
mutation($userId: Int!, $input: UserPreferenceUpdateInput!) {
  updateUserPreferences(userId: $userId, input: $input) {
    userId emailEnabled smsEnabled quietHoursStart quietHoursEnd timezone email phoneNumber
  }
}
"""


def test_first_read_creates_the_defaults(gql, db):
    result = gql(PREFERENCES, {"userId": 77})["data"]["userPreferences"]

    assert result == {"userId": 77, "emailEnabled": True, "smsEnabled": True, "pushEnabled": True,
                      "quietHoursStart": None, "quietHoursEnd": None, "timezone": "UTC", "email": "",
                      "phoneNumber": None}
    assert UserPreference.objects.filter(user_id=77).exists()


def test_quiet_hours_read_as_hours_and_minutes(gql, preference):
    preference.quiet_hours_start, preference.quiet_hours_end = dt.time(22), dt.time(7, 30)
    preference.save()

    result = gql(PREFERENCES, {"userId": preference.user_id})["data"]["userPreferences"]

    assert (result["quietHoursStart"], result["quietHoursEnd"]) == ("22:00", "07:30")
    assert result["phoneNumber"] == "+4915112345678"


def test_update_changes_only_the_given_fields(gql, preference):
    changes = {"smsEnabled": False, "quietHoursStart": "22:00", "quietHoursEnd": "07:00",
               "timezone": "Europe/Berlin"}

    result = gql(UPDATE, {"userId": preference.user_id, "input": changes})["data"]["updateUserPreferences"]

    assert result == {"userId": preference.user_id, "emailEnabled": True, "smsEnabled": False,
                      "quietHoursStart": "22:00", "quietHoursEnd": "07:00", "timezone": "Europe/Berlin",
                      "email": preference.email, "phoneNumber": "+4915112345678"}


def test_update_clears_quiet_hours_and_contact_points_with_null(gql, preference):
    preference.quiet_hours_start, preference.quiet_hours_end = dt.time(22), dt.time(7)
    preference.save()
    changes = {"quietHoursStart": None, "quietHoursEnd": None, "email": None, "phoneNumber": None}

    result = gql(UPDATE, {"userId": preference.user_id, "input": changes})["data"]["updateUserPreferences"]

    assert (result["quietHoursStart"], result["quietHoursEnd"], result["email"], result["phoneNumber"]) == (
        None, None, "", None)


def test_update_creates_preferences_for_a_new_user(gql, db):
    result = gql(UPDATE, {"userId": 88, "input": {"pushEnabled": False}})["data"]["updateUserPreferences"]

    assert result["userId"] == 88
    assert UserPreference.objects.get(user_id=88).push_enabled is False


@pytest.mark.parametrize(("changes", "field"), [
    ({"quietHoursStart": "25:00", "quietHoursEnd": "07:00"}, "quietHoursStart"),
    ({"quietHoursStart": "22:00", "quietHoursEnd": "late"}, "quietHoursEnd"),
    ({"quietHoursStart": "22:00"}, "quietHoursStart"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"email": "not-an-email"}, "email"),
    ({"phoneNumber": "12"}, "phoneNumber"),
    ({"emailEnabled": None}, "emailEnabled"),
])
def test_update_refuses_bad_input_naming_the_field(gql, preference, changes, field):
    answer = gql(UPDATE, {"userId": preference.user_id, "input": changes})

    assert answer["data"] is None
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert field in answer["errors"][0]["extensions"]["fieldErrors"]
    preference.refresh_from_db()
    assert preference.quiet_hours_start is None and preference.timezone == "UTC"


def test_a_user_id_out_of_range_is_refused(gql, db):
    answer = gql(PREFERENCES, {"userId": 0})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert "userId" in answer["errors"][0]["extensions"]["fieldErrors"]


def test_an_explicit_null_for_a_switch_is_bad_input_naming_the_field(gql, preference):
    answer = gql(UPDATE, {"userId": preference.user_id, "input": {"emailEnabled": None}})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {
        "emailEnabled": ["May not be null; leave the field out to keep its value."]}
    preference.refresh_from_db()
    assert preference.email_enabled is True


@pytest.mark.parametrize("value", ["05:00:04Z", "06:00+05:00", "22:00:30", "7:00"])
def test_quiet_hours_with_seconds_or_an_offset_are_bad_input(gql, preference, value):
    answer = gql(UPDATE, {"userId": preference.user_id, "input": {"quietHoursStart": value, "quietHoursEnd": "07:00"}})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert "quietHoursStart" in answer["errors"][0]["extensions"]["fieldErrors"]
