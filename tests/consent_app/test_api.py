"""The suppression list over REST: a `manage` key reads it page by page, filters it, and removes entries."""

import pytest

from consent_app.models import Suppression
from consent_app.services import suppression_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(db):
    entries = [
        suppression_add(channel="email", address="Ada@Example.com", reason="hard_bounce", detail="550 no such user",
                        source="mailgun"),
        suppression_add(channel="email", address="bob@example.com", reason="complaint", source="postmark"),
        suppression_add(channel="sms", address="+4915112345678", reason="sms_opt_out", source="twilio"),
    ]
    return {entry.address: entry for entry in entries}


def test_a_manage_key_lists_the_suppressions_newest_first(make_client, listed):
    response = make_client("manage").get("/api/v1/suppressions/")
    assert response.status_code == 200
    body = response.json()
    assert [item["address"] for item in body["items"]] == ["+4915112345678", "bob@example.com", "ada@example.com"]
    assert body["items"][2] == {
        "id": listed["ada@example.com"].pk, "channel": "email", "address": "ada@example.com",
        "reason": "hard_bounce", "detail": "550 no such user", "source": "mailgun",
        "created_at": body["items"][2]["created_at"]}
    assert (body["total"], body["page"], body["pages"], body["next_cursor"]) == (3, 1, 1, None)


def test_filters_by_address_reason_channel_and_part_of_the_address(make_client, listed):
    client = make_client("manage")

    def addresses(query):
        response = client.get(f"/api/v1/suppressions/?{query}")
        assert response.status_code == 200, response.json()
        return [item["address"] for item in response.json()["items"]]

    assert addresses("address=ADA@example.com") == ["ada@example.com"]
    assert addresses("address=%2B4915112345678") == ["+4915112345678"]
    assert addresses("reason=complaint") == ["bob@example.com"]
    assert addresses("channel=email") == ["bob@example.com", "ada@example.com"]
    assert addresses("search=example&reason=hard_bounce") == ["ada@example.com"]


def test_pages_continue_by_cursor(make_client, listed):
    client = make_client("manage")
    first = client.get("/api/v1/suppressions/?size=2").json()
    assert [item["address"] for item in first["items"]] == ["+4915112345678", "bob@example.com"]
    second = client.get(f"/api/v1/suppressions/?size=2&cursor={first['next_cursor']}").json()
    assert [item["address"] for item in second["items"]] == ["ada@example.com"]
    assert (second["page"], second["next_cursor"]) == (2, None)


@pytest.mark.parametrize("query, field", [("reason=bored", "reason"), ("channel=fax", "channel"),
                                          ("cursor=nonsense", "cursor"), ("size=1000", "size")])
def test_a_bad_filter_is_a_400_naming_the_field(make_client, listed, query, field):
    response = make_client("manage").get(f"/api/v1/suppressions/?{query}")
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_removing_an_entry_lets_sends_reach_the_address_again(make_client, listed):
    client = make_client("manage")
    entry = listed["ada@example.com"]
    assert client.delete(f"/api/v1/suppressions/{entry.pk}/").status_code == 204
    assert not Suppression.objects.filter(pk=entry.pk).exists()
    again = client.delete(f"/api/v1/suppressions/{entry.pk}/")
    assert again.status_code == 404
    assert again.json()["status_code"] == 404


def test_reading_or_removing_needs_the_manage_scope(make_client, listed):
    client = make_client("read", "send")
    assert client.get("/api/v1/suppressions/").status_code == 403
    assert client.delete(f"/api/v1/suppressions/{listed['bob@example.com'].pk}/").status_code == 403
    assert Suppression.objects.count() == 3


def test_the_schema_describes_the_list_and_the_removal(make_client):
    schema = make_client().get("/api/schema/?format=json").json()
    listing = schema["paths"]["/api/v1/suppressions/"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"address", "reason", "channel", "search", "cursor",
                                                          "page", "size"}
    assert {"200", "400"} <= set(listing["responses"])
    assert {"204", "404"} <= set(schema["paths"]["/api/v1/suppressions/{suppression_id}/"]["delete"]["responses"])
