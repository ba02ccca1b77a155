"""A page of a long feed on PostgreSQL: the list reads the user's index from the newest message down and stops
at the page, never sorting the feed or walking past other users' newer messages (inbox_app/selectors.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inbox_app.selectors import feed_list

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans (EXPLAIN JSON)")]

LONG_USER, LONG_FEED, OTHERS_MESSAGES = 1001, 50_000, 50_000


@pytest.fixture
def long_feed(db):
    """LONG_USER's 50,000 messages (every 3rd read, every 50th archived, a quarter billing), then 50,000
    newer ones of 5,000 other users; analysed, as the table would be."""
    insert = ("INSERT INTO inbox_messages (user_id, kind, category, title, body, body_html, action_url, data,"
              " created_at, read_at, archived_at) SELECT {user}, '', CASE WHEN g %% 4 = 0 THEN 'billing' ELSE"
              " 'updates' END, 't', 'b', '<p>b</p>', '', '{{}}'::jsonb, now(), CASE WHEN g %% 3 = 0 THEN now() END,"
              " CASE WHEN g %% 50 = 0 THEN now() END FROM generate_series(1, %s) g")
    with connection.cursor() as cursor:
        cursor.execute(insert.format(user=LONG_USER), [LONG_FEED])
        cursor.execute(insert.format(user="2 + g %% 5000"), [OTHERS_MESSAGES])
        cursor.execute("ANALYZE inbox_messages")
        cursor.execute("SELECT max(id) FROM inbox_messages WHERE user_id = %s", [LONG_USER])
        return cursor.fetchone()[0]


def explained(**query) -> list[dict]:
    """The plan nodes, top down, of the SQL feed_list runs for `query`, as PostgreSQL ran it."""
    with CaptureQueriesContext(connection) as queries:
        feed_list(user_id=LONG_USER, size=20, **query)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[0]["sql"])
        plan = cursor.fetchone()[0]
    nodes, todo = [], [(plan[0] if isinstance(plan, list) else plan)["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo += node.get("Plans", [])
    return nodes


@pytest.mark.parametrize("query, index", [
    ({}, "ix_inbox_messages_user"),
    ({"status": "unread"}, "ix_inbox_messages_unread"),
    ({"status": "all", "category": "billing"}, "ix_inbox_messages_user"),
    ({"status": "read"}, "ix_inbox_messages_user"),
])
def test_a_page_of_a_long_feed_reads_about_a_page_from_the_users_index(long_feed, query, index):
    nodes = explained(**query)
    assert not [n for n in nodes if "Sort" in n["Node Type"]]
    scans = [n for n in nodes if "Scan" in n["Node Type"]]
    assert [n.get("Index Name") for n in scans] == [index]
    assert scans[0]["Actual Rows"] == 21  # a page of 20 and one to know there is more
    assert scans[0]["Actual Rows"] + scans[0].get("Rows Removed by Filter", 0) < 100


def test_a_later_page_starts_at_its_cursor_in_the_index(long_feed):
    (scan,) = [n for n in explained(before=long_feed - 30_000) if "Scan" in n["Node Type"]]
    assert scan["Index Name"] == "ix_inbox_messages_user" and scan["Actual Rows"] == 21
    assert scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0) < 100
