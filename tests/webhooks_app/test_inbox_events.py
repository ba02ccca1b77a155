"""The inbox's events: marking feed messages seen, read or archived through the feed API sends
`notification.seen`, `.read` and `.archived`, once per message whose state changed, signed and verified by
the receiver, with the log's payload."""

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from inbox_app.models import FeedMessage
from inbox_app.services import feed_mark, feed_message_create
from kinds_app.models import KindTemplate
from logs_app.models import NotificationLog
from logs_app.pipeline.trigger import notification_trigger
from tests import factories
from webhooks_app.models import EventType, WebhookEvent
from webhooks_app.services import endpoint_update

from .conftest import CLIENT

pytestmark = pytest.mark.django_db

USER = 1001
INBOX_TYPES = {EventType.SEEN, EventType.READ, EventType.ARCHIVED}


@pytest.fixture
def in_app_kind(db):
    template = factories.NotificationTemplateFactory(name="order_shipped_in_app", type="in_app",
                                                     subject="Order {{ code }} shipped", body="It is on its way.")
    kind = factories.NotificationKindFactory(key="order_shipped", channels=[])
    KindTemplate.objects.create(kind=kind, channel="in_app", template=template)
    return kind


@pytest.fixture
def messages(in_app_kind, receiver, django_capture_on_commit_callbacks):
    """Three feed messages of USER, written by triggers of the client that owns the endpoint."""
    ids = []
    for code in ("1", "2", "3"):
        with django_capture_on_commit_callbacks(execute=True):
            result, _ = notification_trigger(kind="order_shipped", user_ids=[USER], context={"code": code},
                                             client=CLIENT)
        log = NotificationLog.objects.get(trigger_id=result.trigger.id)
        ids.append(FeedMessage.objects.get(log_id=log.pk).pk)
    return ids


@pytest.fixture
def feed(db) -> APIClient:
    """The feed API as USER's browser: a token minted by a server key, then Bearer."""
    server = APIClient()
    server.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key(scopes=['send'])[1]}")
    token = server.post(f"/api/v1/users/{USER}/feed-token/").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def mark(feed, django_capture_on_commit_callbacks):
    """POST to the feed API, with what it queues at the commit run (in process: delivered at once)."""

    def post(path, body):
        with django_capture_on_commit_callbacks(execute=True):
            response = feed.post(path, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    return post


def inbox_events(receiver):
    """(type, feed message id) of each verified inbox event, once by webhook-id, in the order they came."""
    return [(payload["type"], payload["data"]["feed_message_id"]) for payload in receiver.events().values()
            if payload["type"] in INBOX_TYPES]


def test_marking_a_message_read_sends_one_signed_read_event_with_the_logs_payload(messages, receiver, mark):
    first = messages[0]
    mark(f"/api/v1/feed/{first}/mark/", {"action": "read"})
    mark(f"/api/v1/feed/{first}/mark/", {"action": "read"})  # no change: no event
    assert inbox_events(receiver) == [("notification.read", first)]
    assert not receiver.rejected
    payload = list(receiver.events().values())[-1]
    log = NotificationLog.objects.get(pk=FeedMessage.objects.get(pk=first).log_id)
    assert payload["data"] == {
        "id": log.pk, "user_id": USER, "channel": "in_app", "template": "order_shipped_in_app", "status": "sent",
        "previous_status": None, "provider": "feed", "error": None, "trigger_id": str(log.trigger_id),
        "batch_id": None, "idempotency_key": None, "feed_message_id": first, "kind": "order_shipped"}
    assert "body" not in payload["data"]
    read = FeedMessage.objects.get(pk=first).read_at
    assert payload["timestamp"] == read.isoformat()


def test_seen_then_archived_by_ids_each_once_per_changed_message(messages, receiver, mark):
    a, b, c = messages
    assert mark("/api/v1/feed/mark/", {"action": "seen", "ids": [a, b]})["changed_ids"] == [a, b]
    assert mark("/api/v1/feed/mark/", {"action": "seen", "ids": [a, b, c]})["changed_ids"] == [c]
    mark("/api/v1/feed/mark/", {"action": "archived", "ids": [b]})
    assert sorted(inbox_events(receiver)) == sorted([
        ("notification.seen", a), ("notification.seen", b), ("notification.seen", c), ("notification.archived", b)])


def test_mark_all_read_sends_a_read_event_for_each_unread_message_only(messages, receiver, mark):
    a, b, c = messages
    mark(f"/api/v1/feed/{b}/mark/", {"action": "read"})
    assert mark("/api/v1/feed/mark-all/", {"action": "read"})["changed"] == 2
    assert mark("/api/v1/feed/mark-all/", {"action": "read"})["changed"] == 0
    assert sorted(inbox_events(receiver)) == sorted([
        ("notification.read", b), ("notification.read", a), ("notification.read", c)])
    # Unread and unarchive are no events of their own.
    mark("/api/v1/feed/mark-all/", {"action": "unread"})
    assert len(inbox_events(receiver)) == 3


def test_an_endpoint_hears_only_the_inbox_types_it_wants(messages, receiver, endpoint, mark):
    endpoint_update(endpoint=endpoint, event_types=["notification.archived"])
    mark("/api/v1/feed/mark-all/", {"action": "read"})
    mark(f"/api/v1/feed/{messages[0]}/mark/", {"action": "archived"})
    assert inbox_events(receiver) == [("notification.archived", messages[0])]


def test_the_event_is_written_in_the_marks_transaction(messages, receiver):
    class Undone(Exception):
        pass

    with pytest.raises(Undone), transaction.atomic():
        feed_mark(user_id=USER, action="read", ids=messages[:1])
        assert WebhookEvent.objects.filter(event_type=EventType.READ).count() == 1
        raise Undone
    assert not WebhookEvent.objects.filter(event_type=EventType.READ).exists()
    assert FeedMessage.objects.get(pk=messages[0]).read_at is None


def test_a_message_of_another_client_or_none_is_told_to_nobody(in_app_kind, receiver, mark,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification_trigger(kind="order_shipped", user_ids=[USER], context={"code": "9"}, client="other-shop")
    feed_message_create(user_id=USER, title="Written without a log", body="b")
    mark("/api/v1/feed/mark-all/", {"action": "read"})
    assert FeedMessage.objects.filter(read_at__isnull=False).count() == 2
    assert inbox_events(receiver) == []
    assert not WebhookEvent.objects.filter(event_type=EventType.READ).exists()
