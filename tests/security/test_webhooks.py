"""Webhooks: a forged, replayed or stale provider callback is refused with 403 and changes nothing."""

import base64
import time

import pytest
from django.core.cache import cache

from logs_app.models import NotificationLog
from tests.factories import NotificationLogFactory
from tests.logs_app.test_webhooks import (
    SIGNING_KEY, TWILIO_URL, mailgun, mailgun_event, post_mailgun, post_twilio, sent_sms, twilio_signature,  # noqa: F401
)

pytestmark = pytest.mark.django_db

MESSAGE_ID = "20261125.1@mg.example.com"


def resend_as_new(log: NotificationLog) -> None:
    """Put the log back to `sent`, so that acting on a callback again would show."""
    NotificationLog.objects.filter(pk=log.pk).update(status="sent", error_message=None, delivered_at=None)


def test_a_replayed_twilio_callback_is_refused(client, fake_twilio, sent_sms):
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    signature = twilio_signature(TWILIO_URL, params, fake_twilio.auth_token)
    assert post_twilio(client, params, signature).status_code == 204
    resend_as_new(sent_sms)

    response = post_twilio(client, params, signature)
    assert response.status_code == 403
    assert response.json() == {"detail": "Replayed webhook (twilio already seen).", "status_code": 403}
    sent_sms.refresh_from_db()
    assert sent_sms.status == "sent"


def test_a_twilio_callback_that_failed_can_be_retried(client, fake_twilio, sent_sms, monkeypatch):
    """Only a callback that was acted on counts as seen: Twilio's retry of a failed one gets through."""
    params = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "delivered"}
    signature = twilio_signature(TWILIO_URL, params, fake_twilio.auth_token)

    def database_down(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr("logs_app.webhooks.log_record_receipt", database_down)
    with pytest.raises(RuntimeError):
        post_twilio(client, params, signature)
    monkeypatch.undo()
    assert post_twilio(client, params, signature).status_code == 204
    sent_sms.refresh_from_db()
    assert sent_sms.status == "delivered"


def test_a_forged_mailgun_event_is_403_in_the_error_shape(client, mailgun):
    response = post_mailgun(client, mailgun_event("delivered", MESSAGE_ID, key="not-the-signing-key"))
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid webhook signature.", "status_code": 403}
    mailgun.refresh_from_db()
    assert mailgun.status == "sent"


def test_a_mailgun_event_without_basic_auth_is_403(client, mailgun):
    response = client.post("/webhooks/anymail/mailgun/tracking/", mailgun_event("delivered", MESSAGE_ID),
                           content_type="application/json")
    assert response.status_code == 403


def test_a_replayed_mailgun_event_is_refused(client, mailgun):
    event = mailgun_event("delivered", MESSAGE_ID)
    assert post_mailgun(client, event).status_code == 200
    resend_as_new(mailgun)

    response = post_mailgun(client, event)
    assert response.status_code == 403
    assert "Replayed" in response.json()["detail"]
    mailgun.refresh_from_db()
    assert mailgun.status == "sent"


def test_a_mailgun_event_id_seen_before_is_refused_even_freshly_signed(client, mailgun):
    assert post_mailgun(client, mailgun_event("delivered", MESSAGE_ID)).status_code == 200
    resend_as_new(mailgun)
    cache.delete_many([key for key in ("webhook-seen:mailgun-token:" + "t" * 50,)])  # as if signed anew

    response = post_mailgun(client, mailgun_event("delivered", MESSAGE_ID))
    assert response.status_code == 403
    assert response.json()["detail"] == "Replayed webhook (mailgun-event already seen)."
    mailgun.refresh_from_db()
    assert mailgun.status == "sent"


def test_a_stale_mailgun_event_is_refused(client, mailgun, settings, monkeypatch):
    settings.WEBHOOK_MAX_AGE_SECONDS = 600
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)  # signed an hour ago
    event = mailgun_event("bounced", MESSAGE_ID)
    monkeypatch.undo()

    response = post_mailgun(client, event)
    assert response.status_code == 403
    assert response.json()["detail"] == "Stale webhook: its signed timestamp is too old."
    mailgun.refresh_from_db()
    assert mailgun.status == "sent"


def test_a_refused_event_leaves_no_mark(client, mailgun, settings, monkeypatch):
    """A stale delivery is refused before its token is remembered; nothing else is remembered either."""
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 3600)
    event = mailgun_event("bounced", MESSAGE_ID)
    monkeypatch.undo()
    post_mailgun(client, event)
    assert cache.get("webhook-seen:mailgun-event:ev1") is None


def test_one_log_is_moved_once_by_many_duplicate_deliveries(client, fake_twilio, sms_via):
    sms_via(fake_twilio)
    log = NotificationLogFactory(type="sms", status="sent", provider="twilio", provider_message_id="SM" + "b" * 32)
    params = {"MessageSid": log.provider_message_id, "MessageStatus": "delivered"}
    signature = twilio_signature(TWILIO_URL, params, fake_twilio.auth_token)
    codes = [post_twilio(client, params, signature).status_code for _ in range(5)]
    assert codes == [204, 403, 403, 403, 403]


# Fail closed: an ESP webhook that cannot authenticate its callers -----------------------------

POSTMARK_BOUNCE = {"RecordType": "Bounce", "Type": "HardBounce", "TypeCode": 1, "MessageID": "pm-1",
                   "Email": "ada@example.com", "Description": "attacker's text", "Details": "forged",
                   "BouncedAt": "2026-11-25T10:00:00Z"}


def post_postmark(client, **headers):
    return client.post("/webhooks/anymail/postmark/tracking/", POSTMARK_BOUNCE, content_type="application/json",
                       **headers)


def test_a_forged_receipt_is_refused_when_no_webhook_secret_is_set(client, settings):
    settings.ANYMAIL = {}
    log = NotificationLogFactory(type="email", status="sent", provider="postmark", provider_message_id="pm-1")
    response = post_postmark(client)
    assert response.status_code == 404
    assert response.json() == {"detail": "This Postmark webhook is not configured.", "status_code": 404}
    log.refresh_from_db()
    assert log.status == "sent"


def test_a_receipt_with_the_webhook_secret_is_acted_on(client, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "hook:secret"}
    log = NotificationLogFactory(type="email", status="sent", provider="postmark", provider_message_id="pm-1")
    assert post_postmark(client).status_code == 403  # no basic auth: a forgery
    auth = "Basic " + base64.b64encode(b"hook:secret").decode()
    assert post_postmark(client, HTTP_AUTHORIZATION=auth).status_code == 200
    log.refresh_from_db()
    assert log.status == "bounced"


@pytest.mark.parametrize("esp", ["postmark", "sendgrid", "sparkpost", "brevo", "mailgun", "mailjet", "amazon_ses",
                                 "mandrill", "resend", "postal"])
def test_an_unconfigured_tracking_webhook_answers_404_in_the_error_shape(client, settings, esp, caplog):
    settings.ANYMAIL = {}
    path = "/webhooks/anymail/mandrill/" if esp == "mandrill" else f"/webhooks/anymail/{esp}/tracking/"
    response = client.post(path, {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["status_code"] == 404
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_check_warns_of_an_esp_backend_without_a_webhook_secret_and_deploy_refuses_it(settings):
    from django.core.checks import run_checks

    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token"}
    assert [m.id for m in run_checks() if m.id.endswith("003")] == ["notifications.W003"]
    deploy = [m.id for m in run_checks(include_deployment_checks=True) if m.id.endswith("003")]
    assert "notifications.E003" in deploy

    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token", "WEBHOOK_SECRET": "hook:secret"}
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id.endswith("003")]
