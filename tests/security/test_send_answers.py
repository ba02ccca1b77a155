"""A key that may send but not read learns nothing of a user's contact details or content from a send's answer
(REST single, bulk and trigger answers; GraphQL sendNotification and triggerNotification)."""

import pytest
from schemathesis.specs.openapi.checks import response_schema_conformance

from consent_app.models import SuppressionReason
from consent_app.services import suppression_add
from preferences_app.services import preference_update
from tests import factories
from tests.api.test_schema import _our_schema, real_app  # noqa: F401  (real_app: a fixture)

pytestmark = pytest.mark.django_db

ADDRESS = "ada@example.com"
RECEIPT = {"id", "status", "scheduled_for", "sent_at", "delivered_at", "created_at", "updated_at"}


@pytest.fixture
def ada():
    factories.NotificationTemplateFactory(name="welcome", type="email", subject="Hi", body="Hello {{ name }}",
                                          variables={"name": "Ada"})
    factories.NotificationKindFactory(key="order_shipped")
    return factories.UserPreferenceFactory(user_id=1001, email=ADDRESS, phone_number="+4915112345678")


SEND = {"user_id": 1001, "template_name": "welcome", "context": {"name": "secret-body-text"}}


def test_a_send_only_key_gets_the_logs_id_status_and_timestamps_only(make_client, ada):
    response = make_client("send").post("/api/v1/notifications/", SEND, format="json")
    assert response.status_code == 202, response.json()
    assert set(response.json()) == RECEIPT
    assert ADDRESS not in response.content.decode() and "secret-body-text" not in response.content.decode()


def test_a_send_only_key_learns_no_address_when_the_channel_is_off(make_client, ada):
    preference_update(user_id=1001, email_enabled=False)
    response = make_client("send").post("/api/v1/notifications/", SEND, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "suppressed"
    assert set(response.json()) == RECEIPT


def test_a_repeated_idempotency_key_answers_a_send_only_key_alike(make_client, ada):
    client = make_client("send")
    client.post("/api/v1/notifications/", SEND, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/v1/notifications/", SEND, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 200 and set(again.json()) == RECEIPT


def test_a_key_that_reads_gets_the_whole_log(make_client, ada):
    response = make_client("send", "read").post("/api/v1/notifications/", SEND, format="json")
    assert response.status_code == 202
    assert response.json()["recipient"] == ADDRESS and "secret-body-text" in response.json()["body"]


def test_a_bulk_answer_names_no_address(make_client, ada):
    response = make_client("send").post("/api/v1/notifications/bulk/",
                                        {"user_ids": [1001, 1002], "template_name": "welcome",
                                         "context": {"name": "x"}}, format="json")
    assert response.status_code == 202, response.json()
    assert set(response.json()) == {"batch_id", "accepted", "suppressed", "failed"}


def test_a_trigger_answer_to_a_send_only_key_names_no_suppressed_address(make_client, ada):
    suppression_add(channel="email", address=ADDRESS, reason=SuppressionReason.HARD_BOUNCE)
    request = {"kind": "order_shipped", "user_ids": [1001], "context": {"first_name": "Ada", "code": "1"}}

    sender = make_client("send").post("/api/v1/triggers/", request, format="json")
    assert sender.status_code == 202, sender.json()
    [email] = [c for c in sender.json()["outcomes"][0]["channels"] if c["channel"] == "email"]
    assert email["status"] == "suppressed"
    assert email["reason"] == "Suppressed: the address is on the suppression list (hard bounce)."
    assert ADDRESS not in sender.content.decode()

    reader = make_client("send", "read").post("/api/v1/triggers/", request, format="json")
    assert ADDRESS in reader.content.decode()


def test_graphql_answers_to_a_send_only_key_name_no_suppressed_address(graphql, ada):
    suppression_add(channel="email", address=ADDRESS, reason=SuppressionReason.COMPLAINT)
    _, secret = factories.api_key(name="sender", scopes=["send"])
    sent = graphql(secret, 'mutation { sendNotification(input: {userId: 1001, templateName: "welcome", '
                           'context: "{\\"name\\": \\"x\\"}"}) { status message } }')
    assert sent["data"]["sendNotification"] == {
        "status": "SUPPRESSED", "message": "Suppressed: the address is on the suppression list (spam complaint)."}
    triggered = graphql(secret, 'mutation { triggerNotification(input: {kind: "order_shipped", userIds: [1001], '
                                'context: "{\\"first_name\\": \\"Ada\\", \\"code\\": \\"1\\"}"}) '
                                '{ outcomes { channels { channel reason } } } }')
    assert "errors" not in triggered, triggered
    assert ADDRESS not in str(triggered)
    _, reader = factories.api_key(name="reader", scopes=["send", "read"])
    assert ADDRESS in str(graphql(reader, 'mutation { sendNotification(input: {userId: 1001, templateName: '
                                          '"welcome", context: "{\\"name\\": \\"x\\"}"}) { message } }'))


def test_the_schema_makes_the_fields_past_the_receipt_optional(anonymous):
    component = anonymous.get("/api/schema/?format=json").json()["components"]["schemas"]["SentLogOutput"]
    assert set(component["required"]) == RECEIPT and "recipient" in component["properties"]


def test_both_answers_conform_to_the_schema(ada, real_app):
    operation = _our_schema()["/api/v1/notifications/"]["POST"]
    for scopes in (["send"], ["send", "read"]):
        _, secret = factories.api_key(name="+".join(scopes), scopes=scopes)
        case = operation.Case(body=SEND, headers={"Authorization": f"Api-Key {secret}"})
        case.validate_response(case.call(), checks=[response_schema_conformance])
