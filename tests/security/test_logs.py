"""No secret, key, token or message body reaches the application logs."""

import logging

import pytest

from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.logs_app.test_webhooks import TWILIO_URL, post_twilio, twilio_signature

pytestmark = pytest.mark.django_db(transaction=True)

BODY_SECRET = "body-4711-do-not-log"


def everything_logged(caplog, capsys) -> str:
    """Every record's message, arguments and extra fields, and whatever the handlers printed."""
    records = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    printed = capsys.readouterr()
    return "\n".join([records, printed.out, printed.err])


def test_a_send_a_webhook_and_auth_failures_log_no_secrets(client, api, fake_twilio, sms_via, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}", variables={"code": "1"})
    preference_update(user_id=1001, phone_number="+4915112345678")
    secret = api._credentials["HTTP_AUTHORIZATION"].removeprefix("Api-Key ")

    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                   "context": {"code": BODY_SECRET}}, format="json")
    assert response.status_code == 202, response.content
    assert [r.form["Body"] for r in fake_twilio.requests] == [f"Your code is {BODY_SECRET}"]

    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "delivered"}
    signature = twilio_signature(TWILIO_URL, params, fake_twilio.auth_token)
    assert post_twilio(client, params, signature).status_code == 204
    assert post_twilio(client, params, signature).status_code == 403  # a replay, logged as refused
    assert post_twilio(client, params, "forged" + signature).status_code == 403

    prefix = secret.split(".")[0]
    wrong = f"{prefix}.{'x' * 32}"
    assert client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Api-Key {wrong}").status_code == 401
    graphql = client.post("/graphql/", {"query": "{ notificationTemplates { pagination { total } } }"},
                          content_type="application/json", headers={"Authorization": f"Api-Key {wrong}"})
    assert graphql.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    logged = everything_logged(caplog, capsys)
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    for needle in (secret, secret.split(".")[1], wrong.split(".")[1], fake_twilio.auth_token, signature,
                   BODY_SECRET):
        assert needle not in logged, f"{needle!r} appears in the logs"
