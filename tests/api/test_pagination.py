import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from kit import pagination
from logs_app.models import NotificationLog
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def twelve_templates(db):
    return [factories.NotificationTemplateFactory(name=f"t{n:02}") for n in range(12)]


@pytest.mark.parametrize("query, page, size, names, pages", [
    ("", 1, 50, [f"t{n:02}" for n in range(12)], 1),
    ("?size=5", 1, 5, ["t00", "t01", "t02", "t03", "t04"], 3),
    ("?size=5&page=3", 3, 5, ["t10", "t11"], 3),
    ("?size=5&page=4", 4, 5, [], 3),
    ("?size=12", 1, 12, [f"t{n:02}" for n in range(12)], 1),
    ("?size=100", 1, 100, [f"t{n:02}" for n in range(12)], 1),
])
def test_the_envelope_counts_pages(api, twelve_templates, query, page, size, names, pages):
    body = api.get(f"/api/v1/templates/{query}").json()
    assert list(body) == ["items", "total", "page", "size", "pages"]
    assert [item["name"] for item in body["items"]] == names
    assert (body["total"], body["page"], body["size"], body["pages"]) == (12, page, size, pages)


def test_an_empty_list_has_zero_pages(api):
    assert api.get("/api/v1/notifications/").json() == {"items": [], "total": 0, "page": 1, "size": 50, "pages": 0,
                                                        "total_is_estimate": False, "next_cursor": None}


@pytest.mark.parametrize("query, field", [("size=101", "size"), ("size=0", "size"), ("page=0", "page"),
                                          ("page=-1", "page"), ("size=abc", "size"),
                                          ("page=99999999999999999999", "page")])
def test_bad_page_parameters_are_400(api, query, field):
    response = api.get(f"/api/v1/templates/?{query}")
    assert response.status_code == 400 and field in response.json()["errors"]


# The delivery log's lists: cursors, capped totals, deep pages -------------------------------------


@pytest.fixture
def seven_logs(db):
    """Seven logs of user 1001, three of them created at the same instant (a cursor must not skip ties)."""
    template = factories.NotificationTemplateFactory()
    logs = [factories.NotificationLogFactory(user_id=1001, template=template) for _ in range(7)]
    factories.NotificationLogFactory(user_id=2002, template=template)
    moment = timezone.now() - dt.timedelta(hours=1)
    for index, log in enumerate(logs):
        created = moment if index in (2, 3, 4) else moment + dt.timedelta(minutes=index)
        NotificationLog.objects.filter(pk=log.pk).update(created_at=created)
    return sorted((NotificationLog.objects.get(pk=log.pk) for log in logs), key=lambda log: (log.created_at, log.id),
                  reverse=True)


def test_cursors_walk_the_list_as_pages_do(api, seven_logs):
    newest_first = [log.pk for log in seven_logs]
    seen, pages, url = [], [], "/api/v1/notifications/?user_id=1001&size=3"
    while url:
        body = api.get(url).json()
        seen += [item["id"] for item in body["items"]]
        pages.append(body["page"])
        assert (body["total"], body["total_is_estimate"], body["pages"]) == (7, False, 3)
        url = body["next_cursor"] and f"/api/v1/notifications/?user_id=1001&size=3&cursor={body['next_cursor']}"
    assert seen == newest_first and pages == [1, 2, 3]
    by_page = [item["id"] for page in (1, 2, 3)
               for item in api.get(f"/api/v1/notifications/?user_id=1001&size=3&page={page}").json()["items"]]
    assert by_page == newest_first


def test_a_page_by_number_hands_out_the_cursor_to_the_next(api, seven_logs):
    second = api.get("/api/v1/notifications/?user_id=1001&size=3&page=2").json()
    third = api.get(f"/api/v1/notifications/?user_id=1001&size=3&cursor={second['next_cursor']}").json()
    assert third["page"] == 3 and [item["id"] for item in third["items"]] == [seven_logs[6].pk]
    assert third["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["nonsense", "WzEsMl0", "W10", "WzIsIm5vdCBhIGRhdGUiLDFd", "%00"])
def test_a_cursor_the_list_did_not_give_is_400(api, seven_logs, cursor):
    response = api.get(f"/api/v1/notifications/?user_id=1001&cursor={cursor}")
    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_deep_pages_are_refused_with_a_pointer_to_cursors(api, db):
    limit = pagination.MAX_OFFSET // 100
    assert api.get(f"/api/v1/notifications/?size=100&page={limit}").status_code == 200
    response = api.get(f"/api/v1/notifications/?size=100&page={limit + 1}")
    assert response.status_code == 400 and "cursor" in response.json()["errors"]["page"][0]


def test_the_total_is_exact_up_to_the_cap_then_estimated(api, seven_logs, monkeypatch):
    monkeypatch.setattr(pagination, "EXACT_TOTAL_CAP", 7)
    assert api.get("/api/v1/notifications/?user_id=1001").json()["total_is_estimate"] is False

    monkeypatch.setattr(pagination, "EXACT_TOTAL_CAP", 5)
    body = api.get("/api/v1/notifications/?user_id=1001&size=2").json()

    if connection.vendor == "postgresql":  # the planner's figure, never below what was counted
        assert body["total_is_estimate"] is True and body["total"] >= 6
    else:  # the embedded SQLite has no planner estimate and counts exactly
        assert (body["total_is_estimate"], body["total"]) == (False, 7)
    assert len(body["items"]) == 2 and body["next_cursor"]
