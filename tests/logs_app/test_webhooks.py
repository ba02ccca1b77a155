"""Provider receipts: Twilio status callbacks and Mailgun tracking events (through django-anymail)."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from logs_app.models import NotificationLog
from tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db

TWILIO_URL = "http://testserver/webhooks/twilio/status"


def twilio_signature(url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's documented scheme: HMAC-SHA1 over the URL and the sorted POST parameters."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


@pytest.fixture
def sent_sms(fake_twilio, sms_via):
    sms_via(fake_twilio)
    return NotificationLogFactory(type="sms", status="sent", provider="twilio", provider_message_id="SM" + "a" * 32)


def post_twilio(client, params, signature):
    return client.post("/webhooks/twilio/status", params, HTTP_X_TWILIO_SIGNATURE=signature)


@pytest.mark.parametrize("twilio_status, status", [("delivered", "delivered"), ("undelivered", "failed"),
                                                   ("failed", "failed")])
def test_signed_twilio_callback_moves_the_log(client, fake_twilio, sent_sms, twilio_status, status):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": twilio_status, "ErrorCode": "30003"
              if status == "failed" else ""}
    response = post_twilio(client, params, twilio_signature(TWILIO_URL, params, fake_twilio.auth_token))
    assert response.status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == status
    if status == "failed":
        assert sent_sms.error_message == "Twilio error 30003"
    else:
        assert sent_sms.delivered_at is not None


def test_forged_twilio_callback_is_refused_and_changes_nothing(client, sent_sms):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    for signature in ("", twilio_signature(TWILIO_URL, params, "not-the-auth-token")):
        response = post_twilio(client, params, signature)
        assert response.status_code == 403
        assert response.json() == {"detail": "Invalid Twilio signature.", "status_code": 403}
    sent_sms.refresh_from_db()
    assert sent_sms.status == "sent"


def test_intermediate_twilio_statuses_change_nothing(client, fake_twilio, sent_sms):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "sent"}
    assert post_twilio(client, params, twilio_signature(TWILIO_URL, params, fake_twilio.auth_token)).status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == "sent"


def test_a_receipt_never_moves_a_log_backwards(client, fake_twilio, sent_sms):
    NotificationLog.objects.filter(pk=sent_sms.pk).update(status="failed", error_message="Twilio error 30005")
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    post_twilio(client, params, twilio_signature(TWILIO_URL, params, fake_twilio.auth_token))
    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.error_message) == ("failed", "Twilio error 30005")


def test_twilio_callback_without_a_twilio_provider_is_404(client):
    assert post_twilio(client, {"MessageSid": "SMx"}, "x").status_code == 404


SIGNING_KEY = "key-mailgun-signing-test"


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_other_methods_on_the_twilio_callback_answer_the_json_error_shape(client, method):
    response = getattr(client, method)("/webhooks/twilio/status")
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert response.json() == {"detail": f"Method {method.upper()} not allowed: Twilio posts its status callbacks.",
                               "status_code": 405}


def mailgun_event(event: str, message_id: str, *, key: str = SIGNING_KEY, severity: str = "permanent") -> dict:
    timestamp, token = str(int(time.time())), "t" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {"event": event, "severity": severity, "timestamp": float(timestamp), "id": "ev1",
                       "recipient": "ada@example.com", "message": {"headers": {"message-id": message_id}},
                       "delivery-status": {"code": 550, "message": "5.1.1 mailbox does not exist",
                                           "description": "Not delivered"}},
    }


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "WEBHOOK_SECRET": "hook:secret"}
    return NotificationLogFactory(type="email", status="sent", provider="mailgun",
                                  provider_message_id="<20261125.1@mg.example.com>")


def post_mailgun(client, payload):
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    return client.post("/webhooks/anymail/mailgun/tracking/", json.dumps(payload), content_type="application/json",
                       HTTP_AUTHORIZATION=auth)


def test_mailgun_bounce_marks_the_email_bounced(client, mailgun):
    response = post_mailgun(client, mailgun_event("failed", "20261125.1@mg.example.com"))
    assert response.status_code == 200
    mailgun.refresh_from_db()
    assert mailgun.status == "bounced"
    assert "mailbox does not exist" in mailgun.error_message


def test_mailgun_delivery_marks_the_email_delivered(client, mailgun):
    post_mailgun(client, mailgun_event("delivered", "20261125.1@mg.example.com"))
    mailgun.refresh_from_db()
    assert mailgun.status == "delivered"


def test_mailgun_event_with_a_bad_signature_is_refused(client, mailgun):
    response = post_mailgun(client, mailgun_event("failed", "20261125.1@mg.example.com", key="wrong-key"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid webhook signature.", "status_code": 403}
    mailgun.refresh_from_db()
    assert mailgun.status == "sent"
