"""The delivery log query and the send mutation (logs_app/schema.py)."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logs_app.models import NotificationLog
from templates_app.models import NotificationType
from tests import factories
from tests.graphql.conftest import error_codes

NOTIFICATIONS = """
query($userId: Int!, $pagination: PaginationInput) {
  userNotifications(userId: $userId, pagination: $pagination) {
    items { id userId templateId templateName type status metadata errorMessage template { id name subject } }
    pagination { total page size pages }
  }
}
"""

SEND = """
mutation($input: NotificationRequestInput!) {
  sendNotification(input: $input) { id status message createdAt scheduledFor }
}
"""


def send_input(template, **fields):
    return {"userId": 1001, "templateName": template.name, "context": '{"first_name": "Ada", "code": "1"}', **fields}


def test_user_notifications_are_the_users_own_newest_first(gql, template):
    older = factories.NotificationLogFactory(user_id=1001, template=template,
                                             notification_metadata={"sid": "SM1"})
    newer = factories.NotificationLogFactory(user_id=1001, template=template)
    factories.NotificationLogFactory(user_id=2002, template=template)

    result = gql(NOTIFICATIONS, {"userId": 1001})["data"]["userNotifications"]

    assert [item["id"] for item in result["items"]] == [newer.pk, older.pk]
    assert result["pagination"] == {"total": 2, "page": 1, "size": 50, "pages": 1}
    item = result["items"][1]
    assert (item["userId"], item["templateId"], item["templateName"]) == (1001, template.pk, template.name)
    assert json.loads(item["metadata"]) == {"sid": "SM1"}
    assert item["template"] == {"id": template.pk, "name": template.name, "subject": template.subject}


def test_a_log_outlives_its_template(gql, template):
    factories.NotificationLogFactory(user_id=1001, template=template)
    name = template.name
    template.delete()

    item = gql(NOTIFICATIONS, {"userId": 1001})["data"]["userNotifications"]["items"][0]

    assert (item["template"], item["templateId"], item["templateName"]) == (None, None, name)


def test_every_status_is_a_value_of_the_enum(gql, template):
    statuses = ["pending", "sent", "delivered", "failed", "bounced", "suppressed"]
    for status in statuses:
        factories.NotificationLogFactory(user_id=1001, template=template, status=status)

    items = gql(NOTIFICATIONS, {"userId": 1001})["data"]["userNotifications"]["items"]

    assert sorted(item["status"] for item in items) == sorted(status.upper() for status in statuses)


def test_user_notifications_refuse_an_oversized_page(gql, db):
    answer = gql(NOTIFICATIONS, {"userId": 1001, "pagination": {"size": 500}})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert answer["errors"][0]["extensions"]["fieldErrors"] == {"size": ["Must be between 1 and 100."]}


def _count_queries(gql, logs: int) -> int:
    NotificationLog.objects.all().delete()
    cache.clear()  # the API key is looked up afresh each time (it is cached after the first request)
    for _ in range(logs):
        factories.NotificationLogFactory(user_id=1001)  # each with a template of its own
    with CaptureQueriesContext(connection) as queries:
        answer = gql(NOTIFICATIONS, {"userId": 1001, "pagination": {"size": 100}})
    assert len(answer["data"]["userNotifications"]["items"]) == logs
    assert all(item["template"] for item in answer["data"]["userNotifications"]["items"])
    return len(queries)


def test_user_notifications_with_templates_take_a_constant_number_of_queries(gql, db,
                                                                            django_assert_max_num_queries):
    few = _count_queries(gql, 2)
    many = _count_queries(gql, 100)

    assert many == few
    # The API key, the count and one page of logs joined to their templates.
    with django_assert_max_num_queries(3):
        gql(NOTIFICATIONS, {"userId": 1001, "pagination": {"size": 100}})


def test_send_records_the_client_and_answers_accepted(gql, template, preference, api_key):
    result = gql(SEND, {"input": send_input(template)})["data"]["sendNotification"]

    assert result["status"] == "PENDING" and result["scheduledFor"] is None
    assert result["message"] == "Notification accepted for delivery"
    log = NotificationLog.objects.get(pk=result["id"])
    assert log.client == api_key.split(".")[0]
    assert log.recipient == preference.email


def test_send_by_another_channel_to_a_named_recipient(gql, template, preference):
    fields = {"channel": "SMS", "recipient": "+14155550123"}

    result = gql(SEND, {"input": send_input(template, **fields)})["data"]["sendNotification"]

    log = NotificationLog.objects.get(pk=result["id"])
    assert (log.type, log.recipient) == (NotificationType.SMS, "+14155550123")


def test_a_disabled_channel_is_suppressed(gql, template):
    factories.UserPreferenceFactory(user_id=1001, email_enabled=False)

    result = gql(SEND, {"input": send_input(template)})["data"]["sendNotification"]

    assert result["status"] == "SUPPRESSED"
    assert result["message"].startswith("Suppressed:")


@pytest.fixture
def quiet_now(db):
    """User 1001 inside quiet hours that end an hour from now (UTC)."""
    now = timezone.now()
    return factories.UserPreferenceFactory(user_id=1001, quiet_hours_start=(now - dt.timedelta(hours=1)).time(),
                                           quiet_hours_end=(now + dt.timedelta(hours=1)).time().replace(
                                               second=0, microsecond=0))


def test_quiet_hours_defer_delivery_and_say_so(gql, template, quiet_now):
    result = gql(SEND, {"input": send_input(template)})["data"]["sendNotification"]

    assert result["status"] == "PENDING" and result["scheduledFor"]
    assert result["message"] == f"Scheduled for {dt.datetime.fromisoformat(result['scheduledFor']).isoformat()} " \
                                "(quiet hours)"


def test_urgent_notifications_ignore_quiet_hours(gql, template, quiet_now):
    result = gql(SEND, {"input": send_input(template, priority="URGENT")})["data"]["sendNotification"]

    assert result["scheduledFor"] is None
    assert result["message"] == "Notification accepted for delivery"


def test_send_at_schedules_delivery(gql, template, preference):
    send_at = (timezone.now() + dt.timedelta(hours=3)).replace(microsecond=0)

    result = gql(SEND, {"input": send_input(template, sendAt=send_at.isoformat())})["data"]["sendNotification"]

    assert dt.datetime.fromisoformat(result["scheduledFor"]) == send_at
    assert result["message"].endswith("(requested)")


def test_send_at_inside_quiet_hours_waits_for_their_end_and_says_so(gql, template, quiet_now):
    send_at = (timezone.now() + dt.timedelta(minutes=30)).replace(microsecond=0)

    result = gql(SEND, {"input": send_input(template, sendAt=send_at.isoformat())})["data"]["sendNotification"]

    assert dt.datetime.fromisoformat(result["scheduledFor"]) > send_at
    assert result["message"].endswith("(quiet hours)")


def test_a_repeated_idempotency_key_returns_the_first_notification(gql, template, preference):
    first = gql(SEND, {"input": send_input(template, idempotencyKey="order-7")})["data"]["sendNotification"]
    again = gql(SEND, {"input": send_input(template, idempotencyKey="order-7")})["data"]["sendNotification"]

    assert again["id"] == first["id"]
    assert again["message"].startswith("Already accepted with this idempotency key")
    assert NotificationLog.objects.count() == 1


def test_a_repeated_idempotency_key_with_another_input_is_bad_user_input_naming_it(gql, template, preference):
    first = gql(SEND, {"input": send_input(template, idempotencyKey="order-7")})["data"]["sendNotification"]
    other = gql(SEND, {"input": send_input(template, idempotencyKey="order-7",
                                           context='{"first_name": "Bob", "code": "1"}')})

    assert other["data"] is None and error_codes(other) == ["BAD_USER_INPUT"]
    assert list(other["errors"][0]["extensions"]["fieldErrors"]) == ["idempotencyKey"]
    assert "another request" in other["errors"][0]["message"]
    assert list(NotificationLog.objects.values_list("id", flat=True)) == [first["id"]]


def test_the_same_moment_with_another_offset_is_the_same_input(gql, template, preference):
    when = timezone.now().replace(microsecond=0) + dt.timedelta(hours=3)
    first = gql(SEND, {"input": send_input(template, idempotencyKey="order-7", sendAt=when.isoformat())})
    again = gql(SEND, {"input": send_input(template, idempotencyKey="order-7",
                                           sendAt=when.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat())})

    assert "errors" not in again, again
    assert again["data"]["sendNotification"]["id"] == first["data"]["sendNotification"]["id"]
    assert again["data"]["sendNotification"]["message"].startswith("Already accepted with this idempotency key")


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"context": '{"first_name": "Ada",'}, "context", "Not valid JSON"),
    ({"context": '["Ada"]'}, "context", "JSON object"),
    ({"context": '{"first_name": "Ada"}'}, "context", "code"),
    ({"templateName": "no_such_template"}, "templateName", "no_such_template"),
    ({"recipient": "not an address"}, "recipient", ""),
    ({"sendAt": "2001-01-01T00:00:00+00:00"}, "sendAt", "past"),
    ({"idempotencyKey": ""}, "idempotencyKey", ""),
    ({"idempotencyKey": "order\x007"}, "idempotencyKey", "NUL"),
])
def test_send_refuses_bad_input_naming_the_field(gql, template, preference, fields, field, words):
    answer = gql(SEND, {"input": send_input(template, **fields)})

    assert answer["data"] is None
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    field_errors = answer["errors"][0]["extensions"]["fieldErrors"]
    assert field in field_errors and words in " ".join(field_errors[field])
    assert field in answer["errors"][0]["message"]
    assert not NotificationLog.objects.exists()


def test_send_refuses_an_unknown_priority_before_running(gql, template, preference):
    answer = gql(SEND, {"input": send_input(template, priority="SOON")})

    assert error_codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]


def test_send_notification_meets_the_send_rate_limit(gql, template, preference, settings):
    # A GraphQL POST counts as `manage`; sending must also fit the stricter `send` limits.
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "send": {"minute": 2, "hour": 100}}
    results = [gql(SEND, {"input": send_input(template)}) for _ in range(3)]
    assert [error_codes(result) for result in results] == [[], [], ["RATE_LIMITED"]]
    assert results[2]["errors"][0]["extensions"]["retryAfter"] >= 1
    assert NotificationLog.objects.count() == 2


PAGE = """
query($userId: Int!, $pagination: PaginationInput, $cursor: String) {
  userNotifications(userId: $userId, pagination: $pagination, cursor: $cursor) {
    items { logId }
    pagination { total page pages totalIsEstimate }
    nextCursor
  }
}
"""


def test_a_cursor_walks_a_users_notifications(gql, template):
    logs = [factories.NotificationLogFactory(user_id=1001, template=template) for _ in range(5)]
    NotificationLog.objects.filter(pk__in=[log.pk for log in logs[1:4]]).update(created_at=timezone.now())
    newest_first = [str(log.pk) for log in
                    NotificationLog.objects.filter(user_id=1001).order_by("-created_at", "-id")]

    seen, pages, cursor = [], [], None
    while True:
        result = gql(PAGE, {"userId": 1001, "pagination": {"size": 2}, "cursor": cursor})["data"]["userNotifications"]
        seen += [item["logId"] for item in result["items"]]
        pages.append(result["pagination"])
        cursor = result["nextCursor"]
        if cursor is None:
            break

    assert seen == newest_first
    assert [page["page"] for page in pages] == [1, 2, 3]
    assert pages[0] == {"total": 5, "page": 1, "pages": 3, "totalIsEstimate": False}


def test_a_bad_cursor_is_bad_user_input(gql, db):
    answer = gql(PAGE, {"userId": 1001, "cursor": "nonsense"})
    assert error_codes(answer) == ["BAD_USER_INPUT"] and "cursor" in answer["errors"][0]["message"]


BIG = """
query($userId: Int!) { userNotifications(userId: $userId) { items { id } } }
"""


def test_ids_past_32_bits_travel_as_log_id(gql, template, preference, big_log_ids):
    sent = gql("""mutation($input: NotificationRequestInput!) { sendNotification(input: $input) { logId status } }""",
               {"input": send_input(template)})["data"]["sendNotification"]
    assert sent == {"logId": str(big_log_ids), "status": "PENDING"}

    listed = gql(PAGE, {"userId": 1001})["data"]["userNotifications"]
    assert listed["items"] == [{"logId": str(big_log_ids)}]

    answer = gql(BIG, {"userId": 1001})
    assert error_codes(answer) == ["ID_TOO_LARGE"] and "logId" in answer["errors"][0]["message"]

    second = gql("""mutation($input: NotificationRequestInput!) { sendNotification(input: $input) { logId } }""",
                 {"input": send_input(template)})["data"]["sendNotification"]["logId"]
    assert int(second) > big_log_ids
    walked, cursor = [], None
    while True:
        page = gql(PAGE, {"userId": 1001, "pagination": {"size": 1}, "cursor": cursor})["data"]["userNotifications"]
        walked += [item["logId"] for item in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert walked == [second, str(big_log_ids)]


def test_a_triggers_outcomes_carry_ids_past_32_bits(gql, big_log_ids):
    factories.NotificationKindFactory(key="order_shipped")
    factories.UserPreferenceFactory(user_id=1001, email="ada@example.com", phone_number="+4915112345678")
    answer = gql("""mutation($input: TriggerNotificationInput!) {
                      triggerNotification(input: $input) { outcomes { channels { channel logId } } } }""",
                 {"input": {"kind": "order_shipped", "userIds": [1001],
                            "context": json.dumps({"first_name": "Ada", "code": "1"})}})
    channels = answer["data"]["triggerNotification"]["outcomes"][0]["channels"]
    assert sorted(int(channel["logId"]) for channel in channels) == sorted(
        NotificationLog.objects.filter(user_id=1001).values_list("pk", flat=True))
    assert min(int(channel["logId"]) for channel in channels) == big_log_ids


def test_small_ids_stay_ints(gql, template, preference):
    sent = gql(SEND, {"input": send_input(template)})["data"]["sendNotification"]
    assert isinstance(sent["id"], int)
