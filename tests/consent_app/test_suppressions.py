"""The suppression list: what puts an address on it, what a send to it does, and taking it off again."""

import hashlib
import hmac

import pytest
from django.urls import reverse

from consent_app.models import Suppression
from consent_app.services import soft_bounce_record, suppression_add
from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.factories import NotificationLogFactory
from tests.fakes.twilio import twilio_error
from tests.logs_app.test_webhooks import mailgun_event, post_mailgun, twilio_signature

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def templates(db):
    template_create(name="news", type="email", subject="News for {{ name }}", body="Hi {{ name }}",
                    variables={"name": "Ada"})
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1"})


@pytest.fixture
def ada(db):
    return preference_update(user_id=1001, email="Ada@Example.com", phone_number="+4915112345678")


@pytest.fixture
def mailgun(settings):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": "key-mailgun-signing-test", "WEBHOOK_SECRET": "hook:secret"}


def send(capture, template_name="news", **kwargs):
    with capture(execute=True):
        log, *_ = notification_send(user_id=1001, template_name=template_name, context={"name": "Ada", "code": "7"},
                                   client="tests", **kwargs)
    log.refresh_from_db()
    return log


def bounce(client, event="failed", severity="permanent", recipient="ada@example.com", token="t"):
    payload = mailgun_event(event, "20261125.1@mg.example.com", severity=severity)
    payload["event-data"]["recipient"] = recipient
    payload["signature"]["token"] = token * 50  # each event its own token: the same one is a replay
    signed = f"{payload['signature']['timestamp']}{payload['signature']['token']}".encode()
    payload["signature"]["signature"] = hmac.new(b"key-mailgun-signing-test", signed, hashlib.sha256).hexdigest()
    return post_mailgun(client, payload)


def test_a_hard_bounce_suppresses_the_address_and_the_next_send_never_reaches_the_provider(
        client, admin_client, ada, mailgun, mailoutbox, django_capture_on_commit_callbacks):
    assert bounce(client).status_code == 200
    (entry,) = Suppression.objects.all()
    assert (entry.channel, entry.address, entry.reason, entry.source) == ("email", "ada@example.com",
                                                                           "hard_bounce", "mailgun")
    assert "mailbox does not exist" in entry.detail

    log = send(django_capture_on_commit_callbacks)
    assert log.status == "suppressed"
    assert log.error_message == "Suppressed: Ada@Example.com is on the suppression list (hard bounce)."
    assert mailoutbox == []

    # The operator removes it in the admin; the following send goes through.
    url = reverse("admin:consent_app_suppression_delete", args=[entry.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Suppression.objects.exists()
    log = send(django_capture_on_commit_callbacks)
    assert log.status == "sent"
    assert [mail.to for mail in mailoutbox] == [["Ada@Example.com"]]


def test_a_spam_complaint_suppresses_the_address(client, ada, mailgun):
    assert bounce(client, event="complained").status_code == 200
    assert Suppression.objects.get().reason == "complaint"


def test_soft_bounces_suppress_only_after_the_limit_in_a_row(client, ada, mailgun, settings):
    settings.NOTIFICATION_SOFT_BOUNCE_LIMIT = 3
    bounce(client, severity="temporary", token="a")
    bounce(client, severity="temporary", token="b")
    bounce(client, event="delivered", token="c")  # a delivery ends the streak
    bounce(client, severity="temporary", token="d")
    bounce(client, severity="temporary", token="e")
    assert not Suppression.objects.exists()
    bounce(client, severity="temporary", token="f")
    entry = Suppression.objects.get()
    assert entry.reason == "soft_bounces" and entry.detail.startswith("3 soft bounces in a row")


def test_a_forged_bounce_suppresses_nothing(client, ada, mailgun):
    payload = mailgun_event("failed", "20261125.1@mg.example.com", key="wrong-key")
    assert post_mailgun(client, payload).status_code == 403
    assert not Suppression.objects.exists()


def test_twilio_opt_out_on_send_fails_the_log_and_suppresses_the_number(
        ada, fake_twilio, sms_via, django_capture_on_commit_callbacks):
    sms_via(fake_twilio)
    fake_twilio.enqueue(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    log = send(django_capture_on_commit_callbacks, template_name="code_sms")
    assert log.status == "failed" and "21610" in log.error_message
    entry = Suppression.objects.get()
    assert (entry.channel, entry.address, entry.reason, entry.source) == ("sms", "+4915112345678",
                                                                           "sms_opt_out", "twilio")
    log = send(django_capture_on_commit_callbacks, template_name="code_sms")
    assert log.status == "suppressed"
    assert len(fake_twilio.requests) == 1


def test_other_send_errors_suppress_nothing(ada, fake_twilio, sms_via, django_capture_on_commit_callbacks):
    sms_via(fake_twilio)
    fake_twilio.enqueue(twilio_error(400, 21602, "Message body is required."))
    assert send(django_capture_on_commit_callbacks, template_name="code_sms").status == "failed"
    assert not Suppression.objects.exists()


def test_a_bulk_send_suppresses_listed_addresses_only(django_capture_on_commit_callbacks):
    preference_update(user_id=1, email="one@example.com")
    preference_update(user_id=2, email="two@example.com")
    suppression_add(channel="email", address="TWO@example.com", reason="hard_bounce")
    with django_capture_on_commit_callbacks(execute=False):
        result, _ = notification_send_bulk(user_ids=[1, 2], template_name="news", context={"name": "x"})
    assert (result.accepted, result.suppressed) == (1, 1)
    suppressed = NotificationLog.objects.get(status="suppressed")
    assert suppressed.user_id == 2 and "suppression list (hard bounce)" in suppressed.error_message


def test_an_address_is_listed_once_with_its_first_reason():
    first = suppression_add(channel="email", address="a@example.com", reason="hard_bounce")
    again = suppression_add(channel="email", address="A@example.com", reason="complaint")
    assert again.pk == first.pk and Suppression.objects.get().reason == "hard_bounce"
    assert soft_bounce_record(address="a@example.com") is None  # already listed: nothing more to count


def test_the_admin_searches_exports_and_adds(admin_client):
    suppression_add(channel="email", address="=cmd@example.com", reason="complaint", source="mailgun")
    suppression_add(channel="sms", address="+4915112345678", reason="sms_opt_out", source="twilio")
    changelist = reverse("admin:consent_app_suppression_changelist")
    page = admin_client.get(changelist, {"q": "4915"}).content.decode()
    assert "+4915112345678" in page and "cmd@example.com" not in page
    ids = list(Suppression.objects.values_list("pk", flat=True))
    export = admin_client.post(changelist, {"action": "export_csv", "_selected_action": ids})
    assert export["Content-Type"].startswith("text/csv")
    lines = export.content.decode().splitlines()
    assert lines[0] == "channel,address,reason,detail,source,created_at"
    assert lines[1].startswith("email,'=cmd@example.com,complaint,")  # no formula in a spreadsheet
    assert lines[2].startswith("sms,+4915112345678,sms_opt_out,")
    added = admin_client.post(reverse("admin:consent_app_suppression_add"),
                              {"channel": "email", "address": "Grace@Example.com"})
    assert added.status_code == 302
    entry = Suppression.objects.get(address="grace@example.com")
    assert (entry.reason, entry.source) == ("manual", "admin")


@pytest.mark.parametrize("code, listed", [("30006", True), ("30003", False)])
def test_a_twilio_callback_naming_an_unreachable_number_suppresses_it(client, fake_twilio, sms_via, code, listed):
    sms_via(fake_twilio)
    log = NotificationLogFactory(type="sms", status="sent", provider="twilio", provider_message_id="SM" + "b" * 32,
                                 recipient="+4915112345678")
    params = {"MessageSid": log.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": code,
              "To": "+4915112345678"}
    signature = twilio_signature("http://testserver/webhooks/twilio/status", params, fake_twilio.auth_token)
    assert client.post("/webhooks/twilio/status", params, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 204
    assert Suppression.objects.filter(channel="sms", address="+4915112345678", reason="undeliverable").exists() == listed
