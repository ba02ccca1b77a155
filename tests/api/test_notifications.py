import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from logs_app.models import BulkSend, IdempotencyKey, NotificationLog
from logs_app.privacy import user_data_erase
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(template, preference):
    return {"user_id": 1001, "template_name": template.name, "context": {"first_name": "Ada", "code": "42"}}


def test_send_answers_202_with_the_pending_log(api, send):
    response = api.post("/api/v1/notifications/", send, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["type"] == "email" and body["user_id"] == 1001
    assert body["subject"] == "Hello Ada" and body["recipient"] == "user1001@example.com"
    log = NotificationLog.objects.get(pk=body["id"])
    assert log.client == api.key.prefix


def test_a_repeated_idempotency_key_returns_the_first_log_with_200(api, send):
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["idempotency_key"] == "order-7"
    assert NotificationLog.objects.count() == 1


def test_a_repeated_idempotency_key_with_another_body_is_422_naming_the_key(api, send):
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    other = api.post("/api/v1/notifications/", {**send, "context": {"first_name": "Bob", "code": "42"}},
                     format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, other.status_code) == (202, 422)
    assert list(other.json()["errors"]) == ["idempotency_key"]
    assert "another request" in other.json()["detail"]
    assert list(NotificationLog.objects.values_list("id", flat=True)) == [first.json()["id"]]
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (again.status_code, again.json()) == (200, first.json())


@pytest.mark.parametrize("change", [{"channel": "sms"}, {"user_id": 1002}, {"priority": "urgent"},
                                    {"recipient": "other@example.com"}, {"template_name": "welcome_email"}])
def test_any_other_field_is_another_body(api, send, change):
    factories.NotificationTemplateFactory(name="welcome_email", subject="Hi", body="Welcome {{ first_name }} {{ code }}")
    api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    other = api.post("/api/v1/notifications/", {**send, **change}, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert other.status_code == 422, other.json()


def test_an_idempotency_key_older_than_a_day_sends_afresh(api, send):
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    NotificationLog.objects.filter(pk=first.json()["id"]).update(created_at=timezone.now() - dt.timedelta(hours=25))
    other = api.post("/api/v1/notifications/", {**send, "context": {"first_name": "Bob", "code": "1"}},
                     format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert other.status_code == 202 and other.json()["id"] != first.json()["id"]
    assert NotificationLog.objects.get(pk=first.json()["id"]).idempotency_key is None


def test_a_retry_answers_the_first_log_whatever_its_age_within_the_window(api, send):
    # The first attempt is read through its key's row by id and creation time: on PostgreSQL that is the
    # partition it was written to, however many partitions lie between it and the retry.
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    earlier = timezone.now() - dt.timedelta(hours=23)
    NotificationLog.objects.filter(pk=first.json()["id"]).update(created_at=earlier)
    IdempotencyKey.objects.filter(log_id=first.json()["id"]).update(created_at=earlier)
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    assert NotificationLog.objects.count() == 1


def test_purge_deletes_keys_past_the_window_and_the_key_then_sends_afresh(api, send, capsys):
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    kept = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-8")
    bulk = {"user_ids": [1001], "template_name": send["template_name"], "context": send["context"]}
    api.post("/api/v1/notifications/bulk/", bulk, format="json", HTTP_IDEMPOTENCY_KEY="spring")
    IdempotencyKey.objects.filter(log_id=first.json()["id"]).update(created_at=timezone.now() - dt.timedelta(hours=25))
    BulkSend.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    call_command("purge_logs", "--older-than", "90")
    assert "Deleted 2 idempotency keys past their window." in capsys.readouterr().out
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["order-8"]
    assert not BulkSend.objects.exists()
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert again.status_code == 202 and again.json()["id"] != first.json()["id"]
    repeat = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-8")
    assert (repeat.status_code, repeat.json()["id"]) == (200, kept.json()["id"])


def test_an_erased_users_key_is_given_up_with_the_logs_personal_data(api, send):
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    user_data_erase(user_id=1001)
    assert not IdempotencyKey.objects.exists()
    preference_update(user_id=1001, email="user1001@example.com")
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert again.status_code == 202 and again.json()["id"] != first.json()["id"]


def test_idempotency_keys_are_per_client(make_client, send):
    one, other = make_client(name="one"), make_client(name="other")
    first = one.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="k")
    second = other.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.parametrize("key", ["k" * 256, "", "order\x007"])
def test_a_bad_idempotency_key_is_400(api, send, key):
    response = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert not NotificationLog.objects.exists()


@pytest.mark.parametrize("change, field", [
    ({"template_name": "no_such_template"}, "template_name"),
    ({"context": {"first_name": "Ada"}}, "context"),
    ({"context": ["not", "an", "object"]}, "context"),
    ({"user_id": 0}, "user_id"),
    ({"user_id": 2**40}, "user_id"),
    ({"channel": "fax"}, "channel"),
    ({"priority": "asap"}, "priority"),
    ({"send_at": "2001-01-01T00:00:00Z"}, "send_at"),
    ({"recipient": "not an address"}, "recipient"),
    ({"cc": "someone"}, "cc"),
])
def test_invalid_sends_are_400_naming_the_field(api, send, change, field):
    response = api.post("/api/v1/notifications/", {**send, **change}, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"], response.json()
    assert NotificationLog.objects.count() == 0


def test_a_context_may_nest_32_levels_deep(api, send):
    def nested(levels: int) -> dict:  # the context itself is the first level
        return {**send["context"], "tree": json.loads("[" * (levels - 1) + "]" * (levels - 1))}

    assert api.post("/api/v1/notifications/", {**send, "context": nested(32)}, format="json").status_code == 202
    response = api.post("/api/v1/notifications/", {**send, "context": nested(33)}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"context": ["Is nested more than 32 levels deep."]}


def test_a_disabled_channel_gives_a_suppressed_log(api, send, preference):
    preference.email_enabled = False
    preference.save()
    response = api.post("/api/v1/notifications/", send, format="json")
    assert response.status_code == 202 and response.json()["status"] == "suppressed"


def test_send_at_schedules_the_log(api, send):
    when = (timezone.now() + dt.timedelta(hours=2)).replace(microsecond=0)
    response = api.post("/api/v1/notifications/", {**send, "send_at": when.isoformat()}, format="json")
    assert response.status_code == 202
    assert dt.datetime.fromisoformat(response.json()["scheduled_for"]) == when


def test_bulk_send_answers_202_with_the_counts(api, template):
    factories.UserPreferenceFactory(user_id=1)
    factories.UserPreferenceFactory(user_id=2, email_enabled=False)
    factories.UserPreferenceFactory(user_id=3, email="")
    response = api.post("/api/v1/notifications/bulk/",
                        {"user_ids": [1, 2, 3], "template_name": template.name,
                         "context": {"first_name": "Ada", "code": "1"}}, format="json")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["accepted"], body["suppressed"], body["failed"]) == (1, 1, 1)
    assert NotificationLog.objects.filter(batch_id=body["batch_id"]).count() == 3


def test_a_repeated_bulk_key_answers_the_first_batch_and_refuses_another_body(api, template):
    factories.UserPreferenceFactory(user_id=1)
    factories.UserPreferenceFactory(user_id=2)
    body = {"user_ids": [1, 2], "template_name": template.name, "context": {"first_name": "Ada", "code": "1"}}
    first = api.post("/api/v1/notifications/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="spring")
    # The same users in another order, one named twice, are the same recipients.
    again = api.post("/api/v1/notifications/bulk/", {**body, "user_ids": [2, 1, 2]}, format="json",
                     HTTP_IDEMPOTENCY_KEY="spring")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    other = api.post("/api/v1/notifications/bulk/", {**body, "user_ids": [1, 2, 3]}, format="json",
                     HTTP_IDEMPOTENCY_KEY="spring")
    assert other.status_code == 422 and list(other.json()["errors"]) == ["idempotency_key"]
    assert NotificationLog.objects.count() == 2


def test_a_bulk_key_older_than_a_day_sends_afresh(api, template):
    factories.UserPreferenceFactory(user_id=1)
    body = {"user_ids": [1], "template_name": template.name, "context": {"first_name": "Ada", "code": "1"}}
    first = api.post("/api/v1/notifications/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="spring")
    BulkSend.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    other = api.post("/api/v1/notifications/bulk/", {**body, "context": {"first_name": "Bob", "code": "2"}},
                     format="json", HTTP_IDEMPOTENCY_KEY="spring")
    assert other.status_code == 202 and other.json()["batch_id"] != first.json()["batch_id"]
    assert NotificationLog.objects.count() == 2


def test_bulk_send_refuses_bad_user_ids(api, template):
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": [1, -5], "template_name": template.name},
                        format="json")
    assert response.status_code == 400 and "user_ids.1" in response.json()["errors"]
    empty = api.post("/api/v1/notifications/bulk/", {"user_ids": [], "template_name": template.name}, format="json")
    assert empty.status_code == 400 and "user_ids" in empty.json()["errors"]


@pytest.mark.parametrize("user_ids", [[1, "2"], [1, 2.5], [1, True], [1, None], [1, 2**31]])
def test_bulk_user_ids_must_be_whole_numbers_in_range(api, template, user_ids):
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": user_ids, "template_name": template.name},
                        format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"user_ids.1": ["Must be a user id: a whole number from 1 to 2147483647."]}


def test_bulk_names_at_most_ten_bad_user_ids(api, template):
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": [0] * 50, "template_name": template.name},
                        format="json")
    assert response.status_code == 400
    assert sorted(response.json()["errors"]) == sorted(f"user_ids.{i}" for i in range(10))


def test_bulk_sends_once_to_a_user_named_twice(api, template):
    for user_id in (1, 2):
        factories.UserPreferenceFactory(user_id=user_id)
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": [2, 1, 2, 1, 2], "template_name": template.name,
                                                       "context": {"first_name": "Ada", "code": "1"}}, format="json")
    assert response.status_code == 202 and response.json()["accepted"] == 2
    logs = NotificationLog.objects.filter(batch_id=response.json()["batch_id"])
    assert sorted(logs.values_list("user_id", flat=True)) == [1, 2]


def test_list_filters_logs(api, template):
    old = factories.NotificationLogFactory(user_id=1, template=template, status="sent")
    NotificationLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=3))
    factories.NotificationLogFactory(user_id=1, template=template, status="failed", type="sms")
    factories.NotificationLogFactory(user_id=2, template=template)
    ids = lambda query: {item["id"] for item in api.get(f"/api/v1/notifications/{query}").json()["items"]}  # noqa
    assert len(ids("?user_id=1")) == 2
    assert ids("?status=sent") == {old.pk}
    assert len(ids("?type=sms")) == 1
    since = (timezone.now() - dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert old.pk not in ids(f"?created_after={since}") and ids(f"?created_before={since}") == {old.pk}


@pytest.mark.parametrize("query, field", [("status=lost", "status"), ("type=fax", "type"),
                                          ("created_after=yesterday", "created_after"), ("user_id=-1", "user_id")])
def test_list_refuses_bad_filters(api, query, field):
    response = api.get(f"/api/v1/notifications/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_retrieve_one_log_and_404(api, template):
    log = factories.NotificationLogFactory(template=template)
    assert api.get(f"/api/v1/notifications/{log.pk}/").json()["id"] == log.pk
    missing = api.get("/api/v1/notifications/987654/")
    assert missing.status_code == 404 and missing.json() == {"detail": "Notification log not found.",
                                                             "status_code": 404}


@pytest.mark.parametrize("fields", [
    {},
    {"template": None, "template_name": "gone", "template_version": None, "status": "sent", "provider": "twilio",
     "provider_message_id": "SM1", "attempts": 2, "error_message": "Attempt 1 failed: HTTP 503",
     "notification_metadata": {"segments": 2, "status": "queued"}, "idempotency_key": "order-7",
     "batch_id": "6f1c8a52-1d0e-4d58-9a8e-0c3a2b9f4e11", "scheduled_for": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
     "sent_at": dt.datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=dt.UTC),
     "delivered_at": dt.datetime(2026, 3, 29, 1, 31, tzinfo=dt.UTC)},
])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_answers_match_the_documented_log_schema(fields, zone):
    from django.utils import timezone

    from logs_app.api import LogOutputSerializer, log_data

    log = factories.NotificationLogFactory(**fields)
    log.refresh_from_db()
    with timezone.override(zone):
        assert log_data(log) == LogOutputSerializer(log).data


def test_log_ids_past_32_bits_travel_as_numbers(api, send, big_log_ids):
    sent = api.post("/api/v1/notifications/", send, format="json").json()
    assert sent["id"] == big_log_ids

    assert api.get(f"/api/v1/notifications/{big_log_ids}/").json()["id"] == big_log_ids
    assert [item["id"] for item in api.get("/api/v1/notifications/?user_id=1001").json()["items"]] == [big_log_ids]

    second = api.post("/api/v1/notifications/", send, format="json").json()["id"]
    bulk = api.post("/api/v1/notifications/bulk/", {**{k: v for k, v in send.items() if k != "user_id"},
                                                    "user_ids": [1001]}, format="json")
    assert bulk.status_code == 202, bulk.json()
    bulk_log = NotificationLog.objects.get(batch_id=bulk.json()["batch_id"]).pk
    assert bulk_log > second > big_log_ids
    newest_first = [bulk_log, second, big_log_ids]
    walked, url = [], "/api/v1/notifications/?user_id=1001&size=1"
    while url:
        body = api.get(url).json()
        walked += [item["id"] for item in body["items"]]
        url = body["next_cursor"] and f"/api/v1/notifications/?user_id=1001&size=1&cursor={body['next_cursor']}"
    assert walked == newest_first


@pytest.mark.parametrize("log_id", [2**63 - 1, 2**63, 10**30])
def test_a_log_id_past_any_log_is_a_404(api, db, log_id):
    response = api.get(f"/api/v1/notifications/{log_id}/")
    assert (response.status_code, response.json()["status_code"]) == (404, 404)


def test_a_refused_send_creates_no_preferences_row(api, template):
    response = api.post("/api/v1/notifications/", {"user_id": 3000, "template_name": template.name,
                                                   "context": {"first_name": "Ada", "code": "1"}}, format="json")
    assert response.status_code == 400 and "recipient" in response.json()["errors"]
    assert not UserPreference.objects.filter(user_id=3000).exists()
    assert NotificationLog.objects.count() == 0


@pytest.mark.parametrize("channel, key, value", [
    ("email", "email", "ada@example.com"), ("sms", "phone", "+4915112345678")])
def test_with_no_address_on_file_the_context_names_it(api, template, channel, key, value):
    context = {"first_name": "Ada", "code": "1", key: value}
    response = api.post("/api/v1/notifications/", {"user_id": 4242, "template_name": template.name,
                                                   "channel": channel, "context": context}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["recipient"] == value


def test_an_address_on_file_wins_over_the_context(api, send):
    send["context"]["email"] = "other@example.com"
    response = api.post("/api/v1/notifications/", send, format="json")
    assert response.json()["recipient"] == "user1001@example.com"


def test_a_repeated_bulk_idempotency_key_returns_the_first_batch_with_200(api, template):
    factories.UserPreferenceFactory(user_id=1)
    body = {"user_ids": [1, 2], "template_name": template.name, "context": {"first_name": "Ada", "code": "1"}}
    first = api.post("/api/v1/notifications/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="campaign-9")
    again = api.post("/api/v1/notifications/bulk/", body, format="json", HTTP_IDEMPOTENCY_KEY="campaign-9")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json() == {**first.json(), "accepted": 1, "failed": 1}
    assert NotificationLog.objects.count() == 2


def test_a_bad_bulk_idempotency_key_is_400(api, template):
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": [1], "template_name": template.name},
                        format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]


def test_the_bulk_body_cap_fits_the_most_users_with_ten_digit_ids(api, settings):
    assert settings.NOTIFICATION_BULK_MAX_USERS == 100_000
    user_ids = [2_000_000_000 + n for n in range(100_000)]
    body = json.dumps({"user_ids": user_ids, "template_name": "no_such_template"})
    assert len(body) > settings.API_MAX_BODY_BYTES
    response = api.post("/api/v1/notifications/bulk/", body, content_type="application/json")
    assert response.status_code == 400 and list(response.json()["errors"]) == ["template_name"]


def test_a_bulk_body_over_its_cap_is_413(api, settings):
    settings.API_BULK_MAX_BODY_BYTES = 100
    response = api.post("/api/v1/notifications/bulk/", {"user_ids": list(range(1, 100)), "template_name": "x"},
                        format="json")
    assert response.status_code == 413 and "at most 100 bytes" in response.json()["detail"]
