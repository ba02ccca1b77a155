import pytest

from preferences_app.models import Device, UserPreference
from tests import factories

pytestmark = pytest.mark.django_db


def test_first_read_creates_the_defaults(api):
    response = api.get("/api/v1/preferences/77/")
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == 77
    assert body["email_enabled"] and body["sms_enabled"] and body["push_enabled"]
    assert body["quiet_hours_start"] is None and body["timezone"] == "UTC"
    assert UserPreference.objects.filter(user_id=77).exists()


def test_a_user_id_out_of_range_is_400(api):
    response = api.get(f"/api/v1/preferences/{2**31}/")
    assert response.status_code == 400 and "user_id" in response.json()["errors"]


def test_patch_changes_only_what_it_names(api, preference):
    response = api.patch("/api/v1/preferences/1001/", {"sms_enabled": False, "quiet_hours_start": "22:00",
                                                        "quiet_hours_end": "07:00", "timezone": "Europe/Berlin"},
                         format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["sms_enabled"] is False and body["email_enabled"] is True
    assert (body["quiet_hours_start"], body["quiet_hours_end"]) == ("22:00", "07:00")
    assert body["email"] == "user1001@example.com" and body["phone_number"] == "+4915112345678"


def test_put_resets_what_it_omits(api, preference):
    response = api.put("/api/v1/preferences/1001/", {"push_enabled": False}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["push_enabled"] is False and body["email"] == "" and body["phone_number"] == ""


@pytest.mark.parametrize("change, field", [
    ({"quiet_hours_start": "22:00"}, "quiet_hours_start"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"phone_number": "12"}, "phone_number"),
    ({"email": "not-an-address"}, "email"),
    ({"email_enabled": "sometimes"}, "email_enabled"),
    ({"favourite_colour": "blue"}, "favourite_colour"),
])
def test_invalid_changes_are_400_naming_the_field(api, preference, change, field):
    response = api.patch("/api/v1/preferences/1001/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_devices_list_add_and_remove(api, preference):
    token = "a" * 64
    added = api.post("/api/v1/preferences/1001/devices/", {"platform": "ios", "token": token}, format="json")
    assert added.status_code == 201, added.json()
    assert added.json()["platform"] == "ios" and added.json()["active"] is True
    listed = api.get("/api/v1/preferences/1001/devices/").json()
    assert listed["total"] == 1 and listed["items"][0]["token"] == token
    device_id = added.json()["id"]
    assert api.delete(f"/api/v1/preferences/1001/devices/{device_id}/").status_code == 204
    assert not Device.objects.filter(pk=device_id).exists()


def test_another_users_device_cannot_be_removed(api, preference):
    device = factories.DeviceFactory(preference=factories.UserPreferenceFactory(user_id=2002))
    response = api.delete(f"/api/v1/preferences/1001/devices/{device.pk}/")
    assert response.status_code == 404 and response.json()["detail"] == "Device not found."
    assert Device.objects.filter(pk=device.pk).exists()


def test_a_device_needs_a_known_platform_and_a_token(api, preference):
    response = api.post("/api/v1/preferences/1001/devices/", {"platform": "blackberry", "token": " "},
                        format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"platform", "token"}


@pytest.mark.parametrize("value", ["05:00:04Z", "06:00+05:00", "22:00:30", "7:00", 2200])
def test_quiet_hours_take_hh_mm_only(api, preference, value):
    response = api.patch("/api/v1/preferences/1001/", {"quiet_hours_start": value, "quiet_hours_end": "07:00"},
                         format="json")
    assert response.status_code == 400 and "quiet_hours_start" in response.json()["errors"]
    preference.refresh_from_db()
    assert preference.quiet_hours_start is None


def test_a_number_where_text_is_declared_is_refused(api, preference):
    response = api.patch("/api/v1/preferences/1001/", {"timezone": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"timezone": ["Not a valid string."]}
