"""Input checked where it comes in: a named recipient even when its channel is off, push tokens when they are
registered, E.164 numbers in ASCII digits, template names in one normal form and a documented set."""

import pytest

from logs_app.models import NotificationLog
from preferences_app.models import Device
from preferences_app.services import preference_update
from templates_app.models import NotificationTemplate
from tests import factories

pytestmark = pytest.mark.django_db

APNS = "a1" * 32
FCM = "dGVzdC10b2tlbg:APA91b" + "x_-" * 40


@pytest.fixture
def everything_off():
    return preference_update(user_id=1001, email_enabled=False, sms_enabled=False, push_enabled=False)


@pytest.mark.parametrize(("channel", "recipient"), [
    ("email", "not an address"),
    ("sms", "call me maybe"),
    ("push", "../../../x?y=1#"),
])
def test_a_named_recipient_is_checked_when_the_channel_is_off(api, everything_off, channel, recipient):
    factories.NotificationTemplateFactory(name="hello", type=channel, subject="Hi" if channel == "email" else None,
                                          body="Hello", variables={})
    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello",
                                                   "recipient": recipient}, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["errors"]) & {"recipient", "message"}
    assert not NotificationLog.objects.exists()


def test_a_good_recipient_on_an_off_channel_is_still_suppressed(api, everything_off):
    factories.NotificationTemplateFactory(name="hello", type="sms", subject=None, body="Hello", variables={})
    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello",
                                                   "recipient": "+4915112345678"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "suppressed"


@pytest.mark.parametrize("number", [
    "+4٩١٥١١٢٣٤٥٦٧٨",  # Arabic-Indic digits after an ASCII first one
    "+4９１５１１２３４５６７８",  # fullwidth digits
])
def test_e164_numbers_take_ascii_digits_only(api, number):
    factories.NotificationTemplateFactory(name="hello", type="sms", subject=None, body="Hello", variables={})
    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello", "recipient": number},
                        format="json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["recipient"], response.json()


@pytest.mark.parametrize(("platform", "token"), [
    ("ios", "../../../x?y=1#"),
    ("ios", "<script>alert(1)</script>"),
    ("ios", "abc123"),
    ("android", "../../../x?y=1#"),
    ("android", "<script>alert(1)</script>" * 2),
    ("android", "short"),
])
def test_a_device_token_is_checked_when_registered(api, platform, token):
    response = api.post("/api/v1/preferences/1001/devices/", {"platform": platform, "token": token}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == ["token"]
    assert not Device.objects.exists()


@pytest.mark.parametrize(("platform", "token"), [("ios", APNS), ("ios", APNS.upper()), ("android", FCM)])
def test_real_looking_tokens_are_registered(api, platform, token):
    response = api.post("/api/v1/preferences/1001/devices/", {"platform": platform, "token": token}, format="json")
    assert response.status_code == 201, response.json()


def test_the_admin_refuses_a_bad_token_too(admin_client):
    preference = factories.UserPreferenceFactory(user_id=1001)
    response = admin_client.post("/admin/preferences_app/device/add/", {
        "preference": preference.pk, "platform": "ios", "token": "<script>", "active": "on"})
    assert response.status_code == 200 and not Device.objects.exists()
    assert "64 or more hexadecimal" in response.content.decode()


TEMPLATE = {"type": "sms", "body": "Hello"}


@pytest.mark.parametrize("name", [
    "reset_p\u0430ssword",  # a Cyrillic а
    "caf\u00e9", "cafe\u0301",  # NFC and NFD
    "Welcome", "has space", "_leading", "", "x" * 101, "semi;colon", "new\nline",
])
def test_template_names_outside_the_set_are_refused(api, name):
    response = api.post("/api/v1/templates/", {**TEMPLATE, "name": name}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == ["name"]
    assert not NotificationTemplate.objects.exists()


def test_a_fullwidth_name_is_the_plain_one(api):
    response = api.post("/api/v1/templates/", {**TEMPLATE, "name": "ｒｅｓｅｔ"}, format="json")
    assert response.status_code == 201 and response.json()["name"] == "reset"
    again = api.post("/api/v1/templates/", {**TEMPLATE, "name": "reset"}, format="json")
    assert again.status_code == 400 and list(again.json()["errors"]) == ["name"]
    sent = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "ｒｅｓｅｔ",
                                               "recipient": "+4915112345678"}, format="json")
    assert sent.status_code == 202 and sent.json()["template_name"] == "reset"


def test_names_the_service_uses_still_conform(api):
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)
    for name in ("welcome_email", "order.v2-final", "a", "9lives"):
        if not NotificationTemplate.objects.filter(name=name).exists():
            response = api.post("/api/v1/templates/", {**TEMPLATE, "name": name}, format="json")
            assert response.status_code == 201, response.json()
    from templates_app.services import TEMPLATE_NAME
    assert all(TEMPLATE_NAME.fullmatch(name) for name in NotificationTemplate.objects.values_list("name", flat=True))


def test_a_template_keeps_a_name_given_before_the_rule(api):
    old = factories.NotificationTemplateFactory(name="Legacy Name", type="sms", subject=None)
    response = api.patch(f"/api/v1/templates/{old.pk}/", {"body": "New body {{ first_name }} {{ code }}"},
                         format="json")
    assert response.status_code == 200, response.json()
    renamed = api.patch(f"/api/v1/templates/{old.pk}/", {"name": "Other Name"}, format="json")
    assert renamed.status_code == 400 and list(renamed.json()["errors"]) == ["name"]
