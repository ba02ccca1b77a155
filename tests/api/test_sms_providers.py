"""An SMS sent over the REST API reaches SNS alone, or SNS after Twilio fails."""

import pytest

from templates_app.services import template_create
from tests.fakes.twilio import twilio_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def code_sms(db):
    return template_create(name="code_sms", type="sms", body="Your code is {{ code }}.", variables={"code": "1"})


def send_sms(api, capture) -> dict:
    api.put("/api/v1/preferences/1001/", {"phone_number": "+4915112345678"}, format="json")
    with capture(execute=True):
        accepted = api.post("/api/v1/notifications/",
                            {"user_id": 1001, "template_name": "code_sms", "context": {"code": "777"}}, format="json")
    assert accepted.status_code == 202, accepted.json()
    return api.get(f"/api/v1/notifications/{accepted.json()['id']}/").json()


def test_with_only_sns_configured_the_sms_reaches_sns_signed(api, code_sms, fake_sns, sms_via,
                                                               django_capture_on_commit_callbacks):
    sms_via(fake_sns)

    log = send_sms(api, django_capture_on_commit_callbacks)

    assert (log["status"], log["provider"]) == ("sent", "sns")
    (form,) = fake_sns.published()
    assert (form["PhoneNumber"], form["Message"]) == ("+4915112345678", "Your code is 777.")
    assert fake_sns.requests[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert log["provider_message_id"] == fake_sns.message_ids[0]


def test_a_twilio_outage_fails_over_to_sns(api, code_sms, fake_twilio, fake_sns, sms_via,
                                           django_capture_on_commit_callbacks):
    sms_via(fake_twilio, fake_sns)
    fake_twilio.enqueue(twilio_error(503, 20500, "Service unavailable"))

    log = send_sms(api, django_capture_on_commit_callbacks)

    assert (log["status"], log["provider"], log["attempts"]) == ("sent", "sns", 1)
    assert (len(fake_twilio.requests), len(fake_sns.published())) == (1, 1)
