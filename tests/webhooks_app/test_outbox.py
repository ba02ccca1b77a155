"""The outbox: events written in the transaction of the change, for the endpoints of the log's client that
want them; cheap when there are none, one INSERT per chunk for a bulk send."""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import BULK_CHUNK, notification_send_bulk
from logs_app.pipeline.cancel import trigger_cancel
from logs_app.pipeline.trigger import notification_trigger
from logs_app.privacy import user_data_erase
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests import factories
from webhooks_app.models import WebhookEvent
from webhooks_app.services import endpoint_create, endpoint_delete, endpoint_update

from .conftest import CLIENT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sms(db, fake_twilio, sms_via):
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345607")


def send(**arguments):
    return notification_send(user_id=7, template_name="code_sms", context={"code": "1"}, client=CLIENT,
                             **arguments)[0]


def webhook_queries(queries) -> list[str]:
    return [query["sql"] for query in queries if "webhook" in query["sql"]]


def test_without_endpoints_a_send_reads_the_cache_and_nothing_else(django_capture_on_commit_callbacks):
    send()  # the first read of the client's endpoints fills the cache
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        send(idempotency_key="second")
    assert webhook_queries(queries.captured_queries) == [] and not WebhookEvent.objects.exists()


def test_an_endpoint_made_deleted_or_disabled_is_heard_at_once(endpoint, django_capture_on_commit_callbacks):
    endpoint_delete(endpoint=endpoint)
    send()  # cached: no endpoints
    endpoint = endpoint_create(client=CLIENT, url="http://127.0.0.1:9/x")
    log = send(idempotency_key="2")
    assert list(WebhookEvent.objects.values_list("endpoint", "log_id", "event_type")) == [
        (endpoint.pk, log.pk, "notification.accepted")]
    endpoint_update(endpoint=endpoint, enabled=False)
    send(idempotency_key="3")
    assert WebhookEvent.objects.count() == 1


def test_an_event_rolls_back_with_its_change(endpoint):
    with pytest.raises(RuntimeError), transaction.atomic():
        send()
        assert WebhookEvent.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the write")
    assert not NotificationLog.objects.exists() and not WebhookEvent.objects.exists()


def test_each_endpoint_of_the_client_gets_its_own_event(endpoint, django_capture_on_commit_callbacks):
    second = endpoint_create(client=CLIENT, url="http://127.0.0.1:9/y", event_types=["notification.sent"])
    endpoint_create(client="someone-else", url="http://127.0.0.1:9/z")
    send()
    assert sorted(WebhookEvent.objects.values_list("endpoint", "event_type")) == [
        (endpoint.pk, "notification.accepted")]
    ids = set(WebhookEvent.objects.values_list("webhook_id", flat=True))
    assert len(ids) == 1 and next(iter(ids)).startswith("msg_")
    assert second.pk not in WebhookEvent.objects.values_list("endpoint", flat=True)


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="SQLite splits one bulk INSERT by its limit of 999 bound variables")
def test_a_bulk_send_writes_its_events_one_insert_per_chunk(endpoint):
    users = list(range(1, BULK_CHUNK + 2))  # two chunks; none has an address on file: born failed
    with CaptureQueriesContext(connection) as queries:
        notification_send_bulk(user_ids=users, template_name="code_sms", context={"code": "1"}, client=CLIENT)
    inserts = [sql for sql in webhook_queries(queries.captured_queries) if sql.startswith("INSERT")]
    assert len(inserts) == 2
    assert WebhookEvent.objects.count() == len(users)
    assert set(WebhookEvent.objects.values_list("event_type", flat=True)) == {"notification.failed",
                                                                             "notification.accepted"}
    assert WebhookEvent.objects.filter(event_type="notification.accepted").count() == 1  # user 7 has a phone


def test_trigger_cancel_and_erasure_carry_the_client_and_trigger(endpoint, django_capture_on_commit_callbacks):
    kind = factories.NotificationKindFactory(key="order_shipped")
    result, _ = notification_trigger(kind=kind.key, user_ids=[7], context={"first_name": "A", "code": "1"},
                                     client=CLIENT, cancellation_key="order-1",
                                     send_at=timezone.now() + dt.timedelta(hours=1))
    trigger_id = str(result.trigger.id)
    accepted = WebhookEvent.objects.filter(event_type="notification.accepted")
    assert accepted.exists() and {e.payload["data"]["trigger_id"] for e in accepted} == {trigger_id}
    trigger_cancel(client=CLIENT, cancellation_key="order-1")
    cancelled = WebhookEvent.objects.filter(event_type="notification.suppressed")
    assert cancelled.count() == accepted.count()
    assert {e.payload["data"]["previous_status"] for e in cancelled} == {"pending"}
    log = send(send_at=timezone.now() + dt.timedelta(hours=1))
    user_data_erase(user_id=7)
    erased = WebhookEvent.objects.filter(event_type="notification.suppressed", log_id=log.pk).get()
    assert erased.payload["data"]["user_id"] == 0 and erased.payload["data"]["idempotency_key"] is None


def test_an_event_names_a_log_past_32_bits_by_its_whole_id(endpoint, big_log_ids):
    log = send()
    event = WebhookEvent.objects.get()
    assert log.pk == event.log_id == event.payload["data"]["id"] == big_log_ids
