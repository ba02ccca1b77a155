"""Per-provider pacing (notification_channels/pacing.py): slots per second, waits too long to take, and
the slow-down after a provider pushes back; on the real Redis when REDIS_URL is set, in process otherwise."""

import collections
import math

import pytest
from django.core.exceptions import ImproperlyConfigured

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from notification_channels import registry
from notification_channels.base import Paced
from notification_channels.pacing import SLOT_SHARE, Pace, next_slot
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.fakes.twilio import twilio_error


def slots(rate: float, count: int, start: float = 1000.37) -> list[float]:
    taken, free = [], 0.0
    for _ in range(count):
        slot, free = next_slot(now=start, free_at=free, rate=rate)
        taken.append(slot)
    return taken


@pytest.mark.parametrize("rate", [1, 7, 50, 50.5, 1000])
def test_a_pace_gives_at_most_its_rate_in_any_second_and_none_in_the_last_tenth(rate):
    taken = slots(rate, 5 * math.ceil(rate))
    per_second = collections.Counter(math.floor(slot) for slot in taken)
    assert max(per_second.values()) <= rate
    assert all(slot - math.floor(slot) < SLOT_SHARE for slot in taken)
    assert taken == sorted(taken) and taken[0] >= 1000.37


def test_below_one_a_second_slots_are_a_rate_apart():
    assert slots(0.5, 3) == [1000.37, 1002.37, 1004.37]


@pytest.fixture
def pace(settings):
    settings.NOTIFICATION_PACE_MAX_WAIT_SECONDS = 1
    made = Pace(key="test:twilio", rate=0.5)
    if made._client is not None:
        made._client.delete(*made._keys)
    return made


def test_a_send_whose_slot_is_too_far_off_is_paced_and_takes_no_slot(pace):
    pace.wait(provider="twilio")
    with pytest.raises(Paced) as paced:
        pace.wait(provider="twilio")
    assert 1.5 < paced.value.retry_after <= 2 and paced.value.code == "paced"
    with pytest.raises(Paced) as again:  # the refused send left the next slot where it was
        pace.wait(provider="twilio")
    assert again.value.retry_after <= paced.value.retry_after


def test_a_push_back_holds_the_pace_until_retry_after_and_halves_it(pace):
    pace.slow_down(retry_after=5)
    with pytest.raises(Paced) as paced:
        pace.wait(provider="twilio")
    assert 4.5 < paced.value.retry_after <= 5


@pytest.mark.parametrize("rate", [0, -1, "50", True])
def test_a_rate_that_is_not_a_positive_number_is_refused_at_start(settings, rate):
    settings.NOTIFICATION_PROVIDERS = {"sms": [{"BACKEND": "notification_channels.sms.ConsoleSMSProvider",
                                                "RATE": rate}]}
    with pytest.raises(ImproperlyConfigured, match=r"\['RATE'\] must be messages per second"):
        registry.providers_for("sms")


@pytest.fixture
def paced_sms(db, settings, fake_twilio):
    """An SMS provider paced at one message each two seconds, waiting at most a second for a slot, and two users
    to text."""
    settings.NOTIFICATION_PACE_MAX_WAIT_SECONDS = 1
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "sms": [
        {"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": fake_twilio.provider_options(),
         "RATE": 0.5}]}
    pace = registry.providers_for("sms")[0].pace
    if pace._client is not None:
        pace._client.delete(*pace._keys)
    template_create(name="code_sms", type="sms", body="Code {{ code }}", variables={"code": "1"})
    for user_id in (1, 2):
        preference_update(user_id=user_id, phone_number=f"+4915112345{user_id:03d}")
    return pace


def test_a_paced_send_waits_for_a_later_try_that_is_not_counted(paced_sms, fake_twilio, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0]
        second = notification_send(user_id=2, template_name="code_sms", context={"code": "2"})[0]
    first.refresh_from_db(), second.refresh_from_db()
    assert first.status == "sent" and len(fake_twilio.requests) == 1
    assert second.status == "pending" and second.attempts == 0 and second.scheduled_for is not None
    assert "paced at 0.5/s" in second.error_message


def test_a_429_lowers_the_pace_and_the_log_is_retried(paced_sms, fake_twilio, django_capture_on_commit_callbacks):
    fake_twilio.enqueue(Answer(**{**twilio_error(429, 20429, "Too Many Requests").__dict__,
                                  "headers": {"Retry-After": "30"}}))
    with django_capture_on_commit_callbacks(execute=True):
        log = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0]
    log.refresh_from_db()
    assert log.status == "pending" and log.attempts == 1 and "Too Many Requests" in log.error_message
    with pytest.raises(Paced) as paced:  # nobody sends to it before its Retry-After
        paced_sms.wait(provider="twilio")
    assert 29 < paced.value.retry_after <= 30
