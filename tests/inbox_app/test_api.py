"""The feed API (inbox_app/api.py): tokens minted by the server API, and a feed that a token reads and marks
for its own user only."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

from inbox_app.models import FeedMessage
from inbox_app.services import FeedCounts, feed_counts_get, feed_message_create
from inbox_app.tokens import user_hash
from tests import factories

pytestmark = pytest.mark.django_db


def scoped(*scopes: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key(scopes=list(scopes))[1]}")
    return client


@pytest.fixture
def server(db) -> APIClient:
    return scoped("send")


def feed_client(server: APIClient, user_id: int) -> APIClient:
    token = server.post(f"/api/v1/users/{user_id}/feed-token/").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def ada(server):
    return feed_client(server, 1001)


def put(user_id: int, count: int, **fields) -> list[int]:
    return [feed_message_create(user_id=user_id, title=f"t{n}", body=f"**b{n}**", **fields)[0].pk
            for n in range(count)]


def test_a_server_key_with_send_mints_a_token_for_one_user(server):
    response = server.post("/api/v1/users/1001/feed-token/")
    assert response.status_code == 201
    body = response.json()
    assert body["user_id"] == 1001 and body["token"]
    assert dt.datetime.fromisoformat(body["expires_at"]) > dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=59)


def test_minting_needs_the_send_scope_and_a_user_id(db):
    assert scoped("read").post("/api/v1/users/1001/feed-token/").status_code == 403
    assert APIClient().post("/api/v1/users/1001/feed-token/").status_code == 401
    refused = scoped("send").post("/api/v1/users/0/feed-token/")
    assert refused.status_code == 400 and "user_id" in refused.json()["detail"]


def test_the_feed_lists_newest_first_a_page_at_a_time_with_the_counts(ada):
    ids = put(1001, 5)
    first = ada.get("/api/v1/feed/?size=2").json()
    assert [item["id"] for item in first["items"]] == ids[:-3:-1]
    assert (first["unread_count"], first["unseen_count"]) == (5, 5)
    assert first["items"][0]["body_html"] == "<p><strong>b4</strong></p>"
    put(1001, 1)  # arrives meanwhile: the next page neither shifts nor repeats
    second = ada.get(f"/api/v1/feed/?size=2&cursor={first['next_cursor']}").json()
    assert [item["id"] for item in second["items"]] == [ids[2], ids[1]]
    third = ada.get(f"/api/v1/feed/?size=2&cursor={second['next_cursor']}").json()
    assert [item["id"] for item in third["items"]] == [ids[0]] and third["next_cursor"] is None
    assert third["unread_count"] == 6


def test_filters_by_state_and_category(ada):
    billing = put(1001, 2, category="billing")
    security = put(1001, 2, category="security")
    ada.post("/api/v1/feed/mark/", {"action": "read", "ids": [billing[0]]}, format="json")
    ada.post("/api/v1/feed/mark/", {"action": "archived", "ids": [security[0]]}, format="json")

    def listed(query):
        return [item["id"] for item in ada.get(f"/api/v1/feed/?{query}").json()["items"]]

    assert listed("") == [security[1], billing[1], billing[0]]
    assert listed("status=unread") == [security[1], billing[1]]
    assert listed("status=read") == [billing[0]]
    assert listed("status=archived") == [security[0]]
    assert listed("status=all&category=billing") == [billing[1], billing[0]]


@pytest.mark.parametrize("query, field", [("status=starred", "status"), ("cursor=abc", "cursor"),
                                          ("cursor=99999999999999999999", "cursor"), ("size=0", "size"),
                                          ("size=101", "size"), ("colour=red", "colour")])
def test_a_bad_query_is_a_400_naming_the_field(ada, query, field):
    response = ada.get(f"/api/v1/feed/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_marks_answer_with_the_counts(ada):
    a, b, c = put(1001, 3)
    one = ada.post(f"/api/v1/feed/{a}/mark/", {"action": "read"}, format="json").json()
    assert one["changed"] is True and one["item"]["read_at"] and (one["unread_count"], one["unseen_count"]) == (2, 2)
    again = ada.post(f"/api/v1/feed/{a}/mark/", {"action": "read"}, format="json").json()
    assert again["changed"] is False and again["unread_count"] == 2
    many = ada.post("/api/v1/feed/mark/", {"action": "seen", "ids": [a, b]}, format="json").json()
    assert many == {"changed_ids": [b], "unread_count": 2, "unseen_count": 1}
    everything = ada.post("/api/v1/feed/mark-all/", {"action": "read"}, format="json").json()
    assert everything == {"changed": 2, "unread_count": 0, "unseen_count": 0}
    assert ada.get("/api/v1/feed/counts/").json() == {"unread_count": 0, "unseen_count": 0}
    assert ada.get(f"/api/v1/feed/{c}/").json()["read_at"]


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/feed/mark/", {"action": "read"}, "ids"),
    ("/api/v1/feed/mark/", {"action": "read", "ids": []}, "ids"),
    ("/api/v1/feed/mark/", {"action": "read", "ids": ["x"]}, "ids.0"),
    ("/api/v1/feed/mark/", {"action": "starred", "ids": [1]}, "action"),
    ("/api/v1/feed/mark-all/", {}, "action"),
    ("/api/v1/feed/mark-all/", {"action": "read", "extra": 1}, "extra"),
])
def test_a_bad_mark_is_a_400_naming_the_field(ada, path, body, field):
    response = ada.post(path, body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_a_token_never_reads_counts_or_marks_another_users_feed(server, ada):
    mine = put(1001, 1)
    theirs = put(1002, 2, category="billing")
    assert [item["id"] for item in ada.get("/api/v1/feed/?status=all").json()["items"]] == mine
    assert ada.get("/api/v1/feed/counts/").json()["unread_count"] == 1
    assert ada.get(f"/api/v1/feed/{theirs[0]}/").status_code == 404
    assert ada.post(f"/api/v1/feed/{theirs[0]}/mark/", {"action": "read"}, format="json").status_code == 404
    assert ada.post("/api/v1/feed/mark/", {"action": "archived", "ids": theirs}, format="json").json()[
        "changed_ids"] == []
    assert ada.post("/api/v1/feed/mark-all/", {"action": "read", "category": "billing"}, format="json").json()[
        "changed"] == 0
    assert ada.post("/api/v1/feed/mark-all/", {"action": "read"}, format="json").json()["changed"] == 1
    assert feed_counts_get(user_id=1002) == FeedCounts(2, 2)
    assert not FeedMessage.objects.filter(user_id=1002, read_at__isnull=False).exists()
    assert [item["id"] for item in feed_client(server, 1002).get("/api/v1/feed/").json()["items"]] == theirs[::-1]


FEED_CALLS = [("get", "/api/v1/feed/", None), ("get", "/api/v1/feed/counts/", None), ("get", "/api/v1/feed/1/", None),
              ("post", "/api/v1/feed/1/mark/", {"action": "read"}),
              ("post", "/api/v1/feed/mark/", {"action": "read", "ids": [1]}),
              ("post", "/api/v1/feed/mark-all/", {"action": "read"})]


@pytest.mark.parametrize("method, path, body", FEED_CALLS)
@pytest.mark.parametrize("authorization, detail", [
    (None, "A feed token is required"),
    ("Bearer forged", "The feed token is not one this service minted."),
    ("Api-Key abc.def", "Send the feed token as `Authorization: Bearer <token>`."),
    ("Bearer 1001." + "0" * 64, "User hashes are not accepted here"),
])
def test_every_feed_endpoint_refuses_a_missing_or_bad_credential(db, method, path, body, authorization, detail):
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 401 and response.json()["detail"].startswith(detail)
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(server, ada, settings):
    settings.INBOX_FEED_TOKEN_TTL_SECONDS = -1
    expired = feed_client(server, 1001)
    response = expired.get("/api/v1/feed/")
    assert response.status_code == 401
    assert response.json()["detail"] == "The feed token has expired; ask the application for a new one."


def test_a_user_hash_signed_with_the_shared_secret_reads_that_users_feed(db, settings):
    settings.INBOX_USER_HASH_SECRET = "shared-secret"
    put(1001, 1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer 1001.{user_hash(1001, 'shared-secret')}")
    assert client.get("/api/v1/feed/counts/").json()["unread_count"] == 1
    client.credentials(HTTP_AUTHORIZATION=f"Bearer 1002.{user_hash(1001, 'shared-secret')}")
    response = client.get("/api/v1/feed/counts/")
    assert response.status_code == 401 and response.json()["detail"] == "The user hash does not match the user id."


def test_the_feed_answers_browsers_of_allowed_origins(ada, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    preflight = APIClient().options("/api/v1/feed/mark/", HTTP_ORIGIN="https://app.example.com",
                                    HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                                    HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type")
    assert preflight["Access-Control-Allow-Origin"] == "https://app.example.com"
    answer = ada.get("/api/v1/feed/counts/", HTTP_ORIGIN="https://app.example.com")
    assert answer["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in ada.get("/api/v1/feed/", HTTP_ORIGIN="https://evil.example")


@pytest.fixture
def big_message_ids(db):
    """The next feed message id is 2^31 + 1, as a busy inbox's reaches."""
    from tests.conftest import ids_past_32_bits

    yield from ids_past_32_bits(FeedMessage, lambda id: FeedMessage.objects.create(id=id, user_id=1))


def test_message_ids_past_32_bits_travel_as_numbers(ada, big_message_ids):
    first, second, third = put(1001, 3)
    assert first == big_message_ids
    walked, url = [], "/api/v1/feed/?size=1"
    while url:
        page = ada.get(url).json()
        walked += [item["id"] for item in page["items"]]
        url = page["next_cursor"] and f"/api/v1/feed/?size=1&cursor={page['next_cursor']}"
    assert walked == [third, second, first]
    assert ada.get(f"/api/v1/feed/{first}/").json()["id"] == first
    assert ada.post(f"/api/v1/feed/{first}/mark/", {"action": "read"}, format="json").json()["item"]["id"] == first
    marked = ada.post("/api/v1/feed/mark/", {"action": "archived", "ids": [second, third]}, format="json").json()
    assert marked["changed_ids"] == [second, third] and marked["unread_count"] == 0
