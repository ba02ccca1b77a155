import datetime as dt
import json

import pytest

from logs_app.models import NotificationLog
from preferences_app.categories import settings_update
from tests import factories
from tests.graphql.conftest import error_codes

pytestmark = pytest.mark.django_db

TRIGGER = ("mutation($input: TriggerNotificationInput!) { triggerNotification(input: $input) { triggerId kind created "
           "recipients accepted suppressed failed outcomes { userId channels { channel status reason logId } } } }")


@pytest.fixture
def ada():
    factories.NotificationKindFactory(key="order_shipped")
    preference = factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    factories.DeviceFactory(preference=preference)
    settings_update(user_id=1001, categories={"transactional": {"sms": False}})


def test_trigger_notification_names_the_suppressing_rule(gql, ada):
    answer = gql(TRIGGER, {"input": {"kind": "order_shipped", "userIds": [1001],
                                     "context": json.dumps({"first_name": "Ada", "code": "1"})}})
    assert "errors" not in answer, answer
    result = answer["data"]["triggerNotification"]
    assert (result["created"], result["accepted"], result["suppressed"]) == (True, 2, 1)
    channels = result["outcomes"][0]["channels"]
    assert [(c["channel"], c["status"]) for c in channels] == [
        ("EMAIL", "PENDING"), ("PUSH", "PENDING"), ("SMS", "SUPPRESSED")]
    assert channels[2]["reason"] == "Suppressed: The user turned off sms for the category 'transactional'."
    assert NotificationLog.objects.filter(trigger_id=result["triggerId"]).count() == 3


def test_a_missing_variable_is_bad_user_input(gql, ada):
    answer = gql(TRIGGER, {"input": {"kind": "order_shipped", "userIds": [1001], "context": "{}"}})
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert not NotificationLog.objects.exists()


def test_triggering_needs_the_send_scope(gql, ada):
    _, key = factories.api_key("manager", scopes=["manage", "read"])
    answer = gql(TRIGGER, {"input": {"kind": "order_shipped", "userIds": [1001]}}, key=key)
    assert error_codes(answer) == ["FORBIDDEN"]


def test_cancel_trigger(gql, ada):
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    answer = gql(TRIGGER, {"input": {"kind": "order_shipped", "userIds": [1001], "cancellationKey": "k1",
                                     "sendAt": later, "context": json.dumps({"first_name": "Ada", "code": "1"})}})
    assert answer["data"]["triggerNotification"]["accepted"] == 2
    answer = gql('mutation { cancelTrigger(cancellationKey: "k1") { cancellationKey triggers cancelled } }')
    assert answer["data"] == {"cancelTrigger": {"cancellationKey": "k1", "triggers": 1, "cancelled": 2}}
    answer = gql('mutation { cancelTrigger(cancellationKey: "nope") { cancelled } }')
    assert answer["data"] == {"cancelTrigger": None}


def test_topics_subscribe_and_trigger(gql, ada):
    answer = gql('mutation { subscribeToTopic(topic: "watchers", userIds: [1001, 2002]) { added topic { key subscribers } } }')
    assert answer["data"]["subscribeToTopic"] == {"added": 2, "topic": {"key": "watchers", "subscribers": 2}}
    answer = gql(TRIGGER, {"input": {"kind": "order_shipped", "topics": ["watchers"], "userIds": [1001],
                                     "context": json.dumps({"first_name": "Ada", "code": "1"})}})
    assert answer["data"]["triggerNotification"]["recipients"] == 2
    assert gql('{ notificationTopics { items { key subscribers } } }')["data"]["notificationTopics"]["items"] == [
        {"key": "watchers", "subscribers": 2}]
    assert gql('mutation { unsubscribeFromTopic(topic: "watchers", userIds: [2002]) }')["data"] == {
        "unsubscribeFromTopic": 1}
    assert gql('mutation { deleteNotificationTopic(key: "watchers") }')["data"] == {"deleteNotificationTopic": True}
