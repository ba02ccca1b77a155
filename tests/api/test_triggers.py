import datetime as dt

import pytest

from logs_app.models import NotificationLog
from preferences_app.categories import settings_update
from tests import factories

pytestmark = pytest.mark.django_db

CONTEXT = {"first_name": "Ada", "code": "1234"}


@pytest.fixture
def ada():
    factories.NotificationKindFactory(key="order_shipped")
    preference = factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    factories.DeviceFactory(preference=preference)
    settings_update(user_id=1001, categories={"transactional": {"sms": False}})
    return preference


def test_a_trigger_answers_202_with_each_channels_outcome(api, ada):
    response = api.post("/api/v1/triggers/", {"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT},
                        format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["kind"], body["recipients"], body["accepted"], body["suppressed"], body["failed"]) == (
        "order_shipped", 1, 2, 1, 0)
    [outcome] = body["outcomes"]
    assert outcome["user_id"] == 1001
    assert [(c["channel"], c["status"], c["reason"]) for c in outcome["channels"]] == [
        ("email", "pending", None), ("push", "pending", None),
        ("sms", "suppressed", "Suppressed: The user turned off sms for the category 'transactional'.")]
    logs = NotificationLog.objects.filter(trigger_id=body["trigger_id"])
    assert sorted(logs.values_list("type", flat=True)) == ["email", "push", "sms"]
    listed = api.get(f"/api/v1/notifications/?trigger_id={body['trigger_id']}").json()
    assert listed["total"] == 3 and {item["trigger_id"] for item in listed["items"]} == {body["trigger_id"]}


def test_idempotency_same_body_200_other_body_422_naming_the_key(api, ada):
    request = {"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT}
    first = api.post("/api/v1/triggers/", request, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    again = api.post("/api/v1/triggers/", request, format="json", HTTP_IDEMPOTENCY_KEY="order-42")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["trigger_id"] == first.json()["trigger_id"]
    other = api.post("/api/v1/triggers/", {**request, "context": {**CONTEXT, "code": "9"}}, format="json",
                     HTTP_IDEMPOTENCY_KEY="order-42")
    assert other.status_code == 422
    assert list(other.json()["errors"]) == ["idempotency_key"]
    assert NotificationLog.objects.count() == 3


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "nope"}, "kind"),
    ({"user_ids": []}, "user_ids"),
    ({"context": {"first_name": "Ada"}}, "context"),
    ({"cancellation_key": ""}, "cancellation_key"),
    ({"topics": ["x"]}, "topics"),
])
def test_bad_triggers_are_a_400_naming_the_field(api, ada, change, field):
    body = {"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT, **change}
    response = api.post("/api/v1/triggers/", body, format="json")
    assert response.status_code == 400, response.json()
    assert any(key.startswith(field) for key in response.json()["errors"]), response.json()


def test_triggering_needs_the_send_scope(make_client, ada):
    response = make_client("read", "manage").post(
        "/api/v1/triggers/", {"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT}, format="json")
    assert response.status_code == 403 and "send" in response.json()["detail"]


def test_delete_cancels_pending_logs_by_the_cancellation_key(api, ada):
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    response = api.post("/api/v1/triggers/", {"kind": "order_shipped", "user_ids": [1001], "context": CONTEXT,
                                              "cancellation_key": "order-42", "send_at": later}, format="json")
    assert response.status_code == 202
    answer = api.delete("/api/v1/triggers/order-42/")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"cancellation_key": "order-42", "triggers": 1, "cancelled": 2}
    logs = NotificationLog.objects.filter(trigger_id=response.json()["trigger_id"])
    assert set(logs.values_list("status", flat=True)) == {"suppressed"}
    assert api.delete("/api/v1/triggers/unknown/").status_code == 404
