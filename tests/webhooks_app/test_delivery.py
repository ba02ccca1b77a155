"""Delivering webhook events: signed per Standard Webhooks, verified by a receiver with the library's own
`Webhook.verify`, retried with the same webhook-id, and refused at delivery for a private destination."""

import datetime as dt
import io
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone
from standardwebhooks import Webhook

from logs_app.pipeline.accept import notification_send
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from tests.logs_app.test_webhooks import TWILIO_URL, post_twilio, twilio_signature
from webhooks_app import metrics
from webhooks_app.delivery import RETRY_SCHEDULE
from webhooks_app.models import EventStatus, WebhookAttempt, WebhookEndpoint, WebhookEvent
from webhooks_app.services import endpoint_rotate_secret, endpoint_update

from .conftest import CLIENT, retries_fall_due

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(db, fake_twilio, sms_via):
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", subject="", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345607")


def send(capture, *, client=CLIENT, code="1"):
    with capture(execute=True):
        log, *_ = notification_send(user_id=7, template_name="code_sms", context={"code": code}, client=client)
    return log


def twilio_says(client, fake_twilio, log, status):
    params = {"MessageSid": log.provider_message_id, "MessageStatus": status, "ErrorCode": ""}
    response = post_twilio(client, params, twilio_signature(TWILIO_URL, params, fake_twilio.auth_token))
    assert response.status_code == 204


def test_a_send_then_a_signed_receipt_yields_accepted_sent_delivered(client, receiver, fake_twilio,
                                                                     django_capture_on_commit_callbacks):
    log = send(django_capture_on_commit_callbacks)
    log.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        twilio_says(client, fake_twilio, log, "delivered")
    assert [payload["type"] for _, payload in receiver.verified] == [
        "notification.accepted", "notification.sent", "notification.delivered"]
    assert not receiver.rejected
    delivered = receiver.verified[-1][1]
    assert delivered["data"] == {
        "id": log.pk, "user_id": 7, "channel": "sms", "template": "code_sms", "status": "delivered",
        "previous_status": "sent", "provider": "twilio", "error": None, "trigger_id": None, "batch_id": None,
        "idempotency_key": None}
    assert "body" not in delivered["data"]  # no message bodies unless the endpoint opts in
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {EventStatus.DELIVERED}
    assert [a.status_code for a in WebhookAttempt.objects.order_by("id")] == [204, 204, 204]


def test_500_twice_then_each_event_once_by_webhook_id(client, receiver, fake_twilio,
                                                      django_capture_on_commit_callbacks):
    receiver.enqueue(Answer(status=500), Answer(status=500))
    log = send(django_capture_on_commit_callbacks)  # accepted and sent: both answered 500
    assert receiver.verified == [] and len(receiver.requests) == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert retries_fall_due() == 2
    log.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        twilio_says(client, fake_twilio, log, "delivered")
    assert receiver.types_once() == {"notification.accepted": 1, "notification.sent": 1, "notification.delivered": 1}
    # Every attempt at an event carried its webhook-id: the 500s and the retry that got through.
    ids = [request.headers["webhook-id"] for request in receiver.requests]
    assert ids[:2] == ids[2:4] and len(set(ids)) == 3
    accepted = WebhookEvent.objects.get(event_type="notification.accepted")
    assert accepted.attempts == 2 and accepted.status == EventStatus.DELIVERED
    assert list(accepted.attempt_set.order_by("id").values_list("status_code", "error")) == [
        (500, "Answered HTTP 500."), (204, "")]


def test_a_receiver_with_the_wrong_secret_rejects_every_delivery(endpoint, loopback_allowed,
                                                                 django_capture_on_commit_callbacks):
    other = WebhookEndpoint(secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=")
    with FakeWebhookReceiver(secret=other.secret) as wrong:
        endpoint_update(endpoint=endpoint, url=wrong.endpoint_url)
        send(django_capture_on_commit_callbacks)
    assert wrong.verified == [] and wrong.rejected == ["No matching signature found"] * 2
    assert WebhookEvent.objects.filter(status=EventStatus.PENDING).count() == 2


def test_during_a_rotation_both_secrets_verify(endpoint, receiver, django_capture_on_commit_callbacks):
    old = endpoint.secret
    endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=3600)
    send(django_capture_on_commit_callbacks)
    assert len(receiver.verified) == 2  # the receiver still holds the old secret
    for request in receiver.requests:
        Webhook(endpoint.secret).verify(request.raw, dict(request.headers))  # and the new one verifies too
        assert len(request.headers["webhook-signature"].split(" ")) == 2
    endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=0)
    receiver.secret = endpoint.secret
    send(django_capture_on_commit_callbacks, code="2")
    assert len(receiver.verified) == 4
    assert Webhook(old).sign("x", timezone.now(), "") not in receiver.requests[-1].headers["webhook-signature"]


def test_retries_keep_the_id_then_give_up_after_the_schedule(receiver, django_capture_on_commit_callbacks):
    endpoint_update(endpoint=WebhookEndpoint.objects.get(), event_types=["notification.accepted"])
    attempts = len(RETRY_SCHEDULE) + 1
    receiver.enqueue(*[Answer(status=503)] * attempts)
    send(django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    for _ in range(len(RETRY_SCHEDULE)):
        event.refresh_from_db()
        assert event.status == EventStatus.PENDING
        with django_capture_on_commit_callbacks(execute=True):
            assert retries_fall_due() == 1
    event.refresh_from_db()
    assert event.status == EventStatus.FAILED and event.attempts == attempts
    assert event.last_error == f"Gave up after {attempts} attempts: Answered HTTP 503."
    assert {request.headers["webhook-id"] for request in receiver.requests} == {event.webhook_id}
    assert len(receiver.requests) == attempts
    with django_capture_on_commit_callbacks(execute=True):
        assert retries_fall_due() == 0  # nothing more is tried


def test_the_backoff_follows_the_schedule_with_jitter(receiver, django_capture_on_commit_callbacks):
    endpoint_update(endpoint=WebhookEndpoint.objects.get(), event_types=["notification.accepted"])
    receiver.enqueue(Answer(status=500), Answer(status=500))
    before = timezone.now()
    send(django_capture_on_commit_callbacks)
    event = WebhookEvent.objects.get()
    assert before + dt.timedelta(seconds=4) <= event.next_attempt_at <= timezone.now() + dt.timedelta(seconds=6)
    with django_capture_on_commit_callbacks(execute=True):
        retries_fall_due()
    event.refresh_from_db()
    wait = (event.next_attempt_at - event.attempt_set.order_by("id").last().attempted_at).total_seconds()
    assert 240 <= wait <= 360


@pytest.mark.parametrize("url", ["http://localhost:{port}/hooks/notifications",
                                 "http://127.0.0.1:{port}/hooks/notifications"])
def test_a_private_destination_is_refused_at_delivery(endpoint, receiver, settings, url,
                                                      django_capture_on_commit_callbacks):
    endpoint_update(endpoint=endpoint, url=url.format(port=receiver.port))  # saved while allowed
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    send(django_capture_on_commit_callbacks)
    assert receiver.requests == []
    attempt = WebhookAttempt.objects.first()
    assert attempt.status_code is None and "not a public address" in attempt.error
    assert WebhookEvent.objects.filter(status=EventStatus.PENDING).count() == 2


def test_an_endpoint_failing_too_long_is_disabled_and_said_so(endpoint, receiver, caplog,
                                                              django_capture_on_commit_callbacks):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - dt.timedelta(hours=25))
    receiver.enqueue(Answer(status=500))
    disabled = metrics.DISABLED.labels(str(endpoint.pk))._value.get()
    with caplog.at_level(logging.WARNING, logger="webhooks_app.delivery"):
        send(django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "disabled after 24 h" in endpoint.disabled_reason
    assert [r.getMessage() for r in caplog.records].count("webhook endpoint disabled") == 1
    assert metrics.DISABLED.labels(str(endpoint.pk))._value.get() == disabled + 1
    # Disabled by the `accepted` event's failure, it hears of nothing after (not the `sent` that followed);
    # its waiting event waits until it is enabled again.
    send(django_capture_on_commit_callbacks, code="2")
    assert list(WebhookEvent.objects.values_list("event_type", flat=True)) == ["notification.accepted"]
    assert len(receiver.requests) == 1
    endpoint_update(endpoint=endpoint, enabled=True)
    with django_capture_on_commit_callbacks(execute=True):
        retries_fall_due()
    assert len(receiver.verified) == 1


def test_a_success_ends_the_run_of_failures(endpoint, receiver, django_capture_on_commit_callbacks):
    receiver.enqueue(Answer(status=500))
    send(django_capture_on_commit_callbacks)  # accepted fails, sent gets through
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled


def test_the_body_only_goes_to_an_endpoint_that_opts_in(endpoint, receiver, django_capture_on_commit_callbacks):
    endpoint_update(endpoint=endpoint, include_body=True, event_types=["notification.sent"])
    send(django_capture_on_commit_callbacks, code="4711")
    [(_, payload)] = receiver.verified
    assert payload["data"]["body"] == "Your code is 4711." and payload["type"] == "notification.sent"


def test_another_clients_sends_and_unwanted_types_make_no_events(endpoint, receiver,
                                                                 django_capture_on_commit_callbacks):
    send(django_capture_on_commit_callbacks, client="someone-else")
    endpoint_update(endpoint=endpoint, event_types=["notification.delivered"])
    send(django_capture_on_commit_callbacks)
    assert not WebhookEvent.objects.exists() and receiver.requests == []


def test_deliver_webhooks_releases_due_retries(receiver, django_capture_on_commit_callbacks):
    receiver.enqueue(Answer(status=500), Answer(status=500))
    send(django_capture_on_commit_callbacks)
    WebhookEvent.objects.update(next_attempt_at=timezone.now())
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("deliver_webhooks", stdout=out)
    assert out.getvalue().strip() == "Released 2 due webhook events."
    assert receiver.types_once() == {"notification.accepted": 1, "notification.sent": 1}


def test_a_leased_event_is_skipped_and_a_short_lease_gives_the_rest_back(receiver, settings,
                                                                         django_capture_on_commit_callbacks):
    from webhooks_app.delivery import events_claim, events_deliver

    receiver.enqueue(Answer(status=500), Answer(status=500))
    send(django_capture_on_commit_callbacks)
    WebhookEvent.objects.update(next_attempt_at=timezone.now())
    ids = list(WebhookEvent.objects.order_by("id").values_list("id", flat=True))
    held = events_claim(event_ids=ids[:1], now=timezone.now())  # another worker holds the first
    assert [event.pk for event in held] == ids[:1]
    settings.NOTIFICATION_LEASE_MARGIN_SECONDS = settings.NOTIFICATION_LEASE_SECONDS + 1  # no lease is long enough
    assert events_deliver(event_ids=ids) == {"released": 1}
    assert len(receiver.requests) == 2  # the two first attempts only
    second = WebhookEvent.objects.get(pk=ids[1])
    assert second.lease_expires_at is None and second.attempts == 1
