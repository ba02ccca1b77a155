"""SMS STOP, START and HELP on Twilio's incoming-message webhook, signed as Twilio signs it."""

import pytest

from consent_app.models import ConsentRecord, Suppression
from logs_app.pipeline.accept import notification_send
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.logs_app.test_webhooks import twilio_signature

pytestmark = pytest.mark.django_db

URL = "http://testserver/webhooks/twilio/inbound"
ADA = "+4915112345678"


@pytest.fixture(autouse=True)
def twilio(fake_twilio, sms_via):
    sms_via(fake_twilio)
    return fake_twilio


@pytest.fixture
def ada(db):
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1"})
    return preference_update(user_id=1001, phone_number=ADA)


def text(client, twilio, body, number=ADA, token=None):
    params = {"MessageSid": f"SM{abs(hash((body, number))):032d}"[:34], "From": number, "To": "+15005550006",
              "Body": body, "AccountSid": twilio.account_sid}
    signature = twilio_signature(URL, params, token or twilio.auth_token)
    return client.post("/webhooks/twilio/inbound", params, HTTP_X_TWILIO_SIGNATURE=signature)


def sms_enabled(user_id=1001):
    return UserPreference.objects.get(user_id=user_id).sms_enabled


def send_code(capture):
    with capture(execute=True):
        log, *_ = notification_send(user_id=1001, template_name="code_sms", context={"code": "7"}, client="tests")
    log.refresh_from_db()
    return log


@pytest.mark.parametrize("word", ["STOP", "stop", " Stop. ", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"])
def test_a_stop_word_turns_sms_off_for_the_user_with_the_number(client, twilio, ada, word):
    response = text(client, twilio, word)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert sms_enabled() is False


def test_stop_then_start_turns_sms_off_and_on_and_the_history_shows_both(
        client, twilio, ada, django_capture_on_commit_callbacks):
    assert text(client, twilio, "STOP").status_code == 200
    assert send_code(django_capture_on_commit_callbacks).status == "suppressed"
    assert text(client, twilio, "start").status_code == 200
    assert sms_enabled() is True
    assert send_code(django_capture_on_commit_callbacks).status == "sent"
    assert [(r.source, r.field, r.old_value, r.new_value) for r in ConsentRecord.objects.order_by("id")] == [
        ("sms", "sms_enabled", "on", "off"), ("sms", "sms_enabled", "off", "on")]
    assert not Suppression.objects.exists()  # the number has a user: their switch says it


def test_a_number_no_user_has_goes_on_the_suppression_list_and_start_lifts_it(client, twilio, db):
    stranger = "+14155550100"
    assert text(client, twilio, "QUIT", number=stranger).status_code == 200
    (entry,) = Suppression.objects.all()
    assert (entry.channel, entry.address, entry.reason, entry.source) == ("sms", stranger, "sms_opt_out", "twilio")
    assert text(client, twilio, "UNSTOP", number=stranger).status_code == 200
    assert not Suppression.objects.exists()


def test_help_answers_with_the_configured_text(client, twilio, ada, settings):
    settings.NOTIFICATION_SMS_HELP_TEXT = "Acme alerts: reply STOP to end & START to resume."
    response = text(client, twilio, "help")
    assert response.content.decode() == ('<?xml version="1.0" encoding="UTF-8"?><Response><Message>Acme alerts: '
                                         'reply STOP to end &amp; START to resume.</Message></Response>')
    assert sms_enabled() is True


def test_other_texts_change_nothing(client, twilio, ada):
    assert text(client, twilio, "please stop sending these").status_code == 200
    assert sms_enabled() is True and not ConsentRecord.objects.exists()


def test_a_forged_stop_is_refused_and_changes_nothing(client, twilio, ada):
    response = text(client, twilio, "STOP", token="not-the-auth-token")
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid Twilio signature.", "status_code": 403}
    params = {"From": ADA, "Body": "STOP"}
    assert client.post("/webhooks/twilio/inbound", params).status_code == 403  # no signature at all
    assert sms_enabled() is True
    assert not ConsentRecord.objects.exists() and not Suppression.objects.exists()


def test_a_replayed_stop_is_refused(client, twilio, ada):
    assert text(client, twilio, "STOP").status_code == 200
    preference_update(user_id=1001, sms_enabled=True)
    assert text(client, twilio, "STOP").status_code == 403
    assert sms_enabled() is True
