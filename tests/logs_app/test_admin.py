"""The delivery log's admin list: what it finds, and that no query it makes reads the whole table."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from kit import pagination
from logs_app.selectors import log_provider_names
from tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:logs_app_notificationlog_changelist"


def found(admin_client, **params) -> set[int]:
    response = admin_client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    return {log.pk for log in response.context["cl"].result_list}


def test_the_list_counts_no_more_than_the_cap_and_lists_no_distinct_values(admin_client):
    NotificationLogFactory.create_batch(3)
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(reverse(CHANGELIST)).status_code == 200
    statements = [query["sql"].upper() for query in queries.captured_queries]
    log_queries = [sql for sql in statements if "NOTIFICATION_LOGS" in sql]
    assert log_queries
    assert not any("DISTINCT" in sql for sql in log_queries)  # no filter or date hierarchy lists the table's values
    counts = [sql for sql in log_queries if "COUNT(" in sql]
    assert counts and all(re.search(r"LIMIT \d+", sql) for sql in counts)  # never a COUNT(*) of every row


def test_digits_find_a_user_or_a_log(admin_client):
    mine = NotificationLogFactory(user_id=4242)
    other = NotificationLogFactory(user_id=7)
    assert found(admin_client, q="4242") == {mine.pk}
    assert found(admin_client, q=str(other.pk)) == {other.pk} | ({mine.pk} if mine.pk == 7 else set())
    assert found(admin_client, q=" 4242 ") == {mine.pk}
    assert found(admin_client, q="9" * 25) == set()  # past any id: nothing, not an error


def test_digits_count_the_users_logs_and_the_log_of_that_id_through_one_index_each(admin_client):
    mine = NotificationLogFactory.create_batch(3, user_id=4242)
    theirs = NotificationLogFactory(user_id=7)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse(CHANGELIST), {"q": str(theirs.pk)})
    expected = {theirs.pk} | ({log.pk for log in mine} if theirs.pk == 4242 else set())
    assert response.context["cl"].result_count == len(expected)
    counts = [query["sql"].upper() for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]
    assert counts and not any(" OR " in sql for sql in counts)  # no count reads the OR of both lookups
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse(CHANGELIST), {"q": "4242", "status__exact": mine[0].status})
    assert response.context["cl"].result_count == 3 + (theirs.pk == 4242 and theirs.status == mine[0].status)
    counts = [query["sql"].upper() for query in queries.captured_queries if "COUNT(" in query["sql"].upper()]
    assert counts and not any(" OR " in sql for sql in counts)


def test_an_address_or_a_phone_number_finds_the_recipient(admin_client):
    ada = NotificationLogFactory(recipient="ada@example.com")
    phone = NotificationLogFactory(type="sms", recipient="+4915112345678")
    NotificationLogFactory(recipient="grace@example.com")
    assert found(admin_client, q="ada@example.com") == {ada.pk}
    assert found(admin_client, q="+4915112345678") == {phone.pk}
    assert found(admin_client, q="ada@") == set()  # exact, not a substring


def test_other_text_finds_a_provider_message_id(admin_client):
    provider = log_provider_names()[0]
    log = NotificationLogFactory(provider=provider, provider_message_id="SM0123abc")
    NotificationLogFactory(provider=provider, provider_message_id="SM0123abd")
    assert found(admin_client, q="SM0123abc") == {log.pk}
    assert found(admin_client, q="SM0123") == set()


def test_the_provider_filter_offers_the_configured_providers(admin_client):
    names = log_provider_names()
    log = NotificationLogFactory(provider=names[0])
    NotificationLogFactory(provider="retired-provider")
    response = admin_client.get(reverse(CHANGELIST))
    provider_filter = next(spec for spec in response.context["cl"].filter_specs if spec.title == "provider")
    assert [choice for choice, _ in provider_filter.lookup_choices] == names
    assert found(admin_client, provider=names[0]) == {log.pk}


def test_the_list_sorts_only_by_indexed_columns(admin_client):
    first = NotificationLogFactory(attempts=1)
    second = NotificationLogFactory(attempts=5)
    # list_display[6] is attempts: not sortable, so the newest-first order stands.
    assert [log.pk for log in admin_client.get(reverse(CHANGELIST), {"o": "6"}).context["cl"].result_list] == [
        second.pk, first.pk]
    assert [log.pk for log in admin_client.get(reverse(CHANGELIST), {"o": "0"}).context["cl"].result_list] == [
        first.pk, second.pk]  # list_display[0] is the id


def test_past_the_cap_the_count_is_an_estimate_and_pages_stop(admin_client, monkeypatch):
    NotificationLogFactory.create_batch(6)
    monkeypatch.setattr(pagination, "EXACT_TOTAL_CAP", 3)
    monkeypatch.setattr(pagination, "MAX_OFFSET", 4)
    monkeypatch.setattr("logs_app.admin.NotificationLogAdmin.list_per_page", 2)
    response = admin_client.get(reverse(CHANGELIST))
    paginator = response.context["cl"].paginator
    assert paginator.num_pages == 2  # rows past MAX_OFFSET are reached by a filter or a search, not a page
    if connection.vendor == "postgresql":
        assert paginator.count_is_estimate is True
        assert b'id="count-is-estimate"' in response.content
    else:  # the embedded SQLite has no planner estimate and counts exactly
        assert (paginator.count, paginator.count_is_estimate) == (6, False)
    assert admin_client.get(reverse(CHANGELIST), {"p": "3"}).status_code == 302  # past the last page offered


def test_the_detail_page_opens(admin_client):
    log = NotificationLogFactory()
    assert admin_client.get(reverse("admin:logs_app_notificationlog_change", args=[log.pk])).status_code == 200


@pytest.mark.parametrize("params", [{}, {"status__exact": "failed", "q": "ada@example.com"}, {"o": "1"}])
def test_the_rows_are_the_html_django_draws(admin_client, params):
    """The list's rows (logs_app/admin_rows.py) are Django's own, cell for cell: links keep the filters, choices
    read as their labels, empty values as the admin's dash, text escaped."""
    from django.contrib.admin.templatetags.admin_list import results
    from django.utils import timezone

    from logs_app.admin_rows import log_results

    NotificationLogFactory(template_name="<b>welcome</b> & more", status="failed", provider="",
                           recipient="ada@example.com", error_message="bounced")
    NotificationLogFactory(status="failed", provider="twilio", type="sms", attempts=3, recipient="ada@example.com",
                           sent_at=timezone.now())
    NotificationLogFactory(status="sent", provider="ses", sent_at=timezone.now(), priority="urgent")
    response = admin_client.get(reverse(CHANGELIST), params)
    cl = response.context["cl"]
    ours = [list(row) for row in log_results(cl)]
    assert len(ours) == (2 if params.get("q") else 3)
    assert ours == [list(row) for row in results(cl)]
    page = response.content.decode()
    assert all(cell in page for row in ours for cell in row)  # what the page shows
    if params.get("q"):
        assert "_changelist_filters=" in ours[0][0]
