"""Live updates (inbox_app/stream.py): Server-Sent Events from a real ASGI server (uvicorn) fed by Redis."""

import json

import httpx
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from inbox_app.services import feed_mark, feed_message_create
from inbox_app.tokens import feed_token_mint

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not django_settings.REDIS_URL, reason="live updates need REDIS_URL")]


class Events:
    """An open event stream, read an event at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.iter_lines()

    def next(self) -> dict:
        event: dict = {}
        for line in self.lines:
            if not line:
                if "event" in event:
                    return event
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                event["data"] = json.loads(value)
            elif name in ("id", "event"):
                event[name] = value
        raise AssertionError("the stream ended")


@pytest.fixture
def stream(asgi_url):
    opened = []

    def open_stream(user_id: int, **headers) -> Events:
        token, _ = feed_token_mint(user_id=user_id)
        client = httpx.Client(timeout=httpx.Timeout(10.0))
        context = client.stream("GET", f"{asgi_url}/api/v1/feed/stream/?token={token}", headers=headers)
        response = context.__enter__()
        opened.append((client, context))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        return Events(response)

    yield open_stream
    for client, context in opened:
        context.__exit__(None, None, None)
        client.close()


def test_a_stream_starts_with_the_counts_then_carries_new_messages_and_marks(stream):
    feed_message_create(user_id=1001, title="earlier", body="b")
    events = stream(1001)
    first = events.next()
    assert first["event"] == "counts" and first["data"] == {"action": "sync", "ids": [], "unread_count": 1,
                                                             "unseen_count": 1}
    message, _ = feed_message_create(user_id=1001, title="Order shipped", body="**now**")
    created = events.next()
    assert created["event"] == "message"
    assert created["data"]["item"]["title"] == "Order shipped" and created["data"]["item"]["id"] == message.pk
    assert created["data"]["item"]["body_html"] == "<p><strong>now</strong></p>"
    assert (created["data"]["unread_count"], created["data"]["unseen_count"]) == (2, 2)
    feed_mark(user_id=1001, action="read", ids=[message.pk])
    marked = events.next()
    assert marked["event"] == "counts" and marked["data"] == {"action": "read", "ids": [message.pk],
                                                              "unread_count": 1, "unseen_count": 1}


def test_a_stream_carries_only_its_own_users_changes(stream):
    events = stream(1001)
    events.next()  # the counts
    feed_message_create(user_id=1002, title="not yours", body="b")
    feed_message_create(user_id=1001, title="yours", body="b")
    assert events.next()["data"]["item"]["title"] == "yours"


def test_a_reconnecting_client_gets_what_it_missed_after_its_last_event_id(stream):
    events = stream(1001)
    feed_message_create(user_id=1001, title="one", body="b")
    events.next()
    seen = events.next()
    assert seen["data"]["item"]["title"] == "one"
    feed_message_create(user_id=1001, title="two", body="b")  # while the client is away
    feed_message_create(user_id=1001, title="three", body="b")
    resumed = stream(1001, **{"Last-Event-ID": seen["id"]})
    assert [resumed.next()["data"]["item"]["title"] for _ in range(2)] == ["two", "three"]


def test_the_stream_refuses_bad_credentials(asgi_url):
    answer = httpx.get(f"{asgi_url}/api/v1/feed/stream/?token=forged", timeout=10)
    assert answer.status_code == 401 and answer.json()["detail"] == "The feed token is not one this service minted."
    assert httpx.get(f"{asgi_url}/api/v1/feed/stream/", timeout=10).status_code == 401
    token, _ = feed_token_mint(user_id=1001)
    answer = httpx.get(f"{asgi_url}/api/v1/feed/stream/?token={token}&last_event_id=x", timeout=10)
    assert answer.status_code == 400


def test_a_wsgi_server_answers_503_so_clients_poll():
    token, _ = feed_token_mint(user_id=1001)
    answer = APIClient().get(f"/api/v1/feed/stream/?token={token}")
    assert answer.status_code == 503 and "poll GET /api/v1/feed/counts/" in answer.json()["detail"]


def test_the_demo_page_is_served_only_with_debug(settings):
    assert APIClient().get("/inbox/demo/").status_code == 404
    settings.DEBUG = True
    page = APIClient().get("/inbox/demo/?user_id=1002")
    assert page.status_code == 200
    assert b'<notification-inbox token="' in page.content and b"/static/inbox_app/inbox.js" in page.content
    assert APIClient().get("/inbox/demo/?user_id=0").status_code == 404
