"""Time limits on API work (kit/timeouts.py): GraphQL's operation deadline everywhere, and PostgreSQL's
statement_timeout for API requests."""

import psycopg
import pytest
from django.db import connection

from tests import factories
from tests.ops import slow_graphql

postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="statement_timeout is PostgreSQL's")


@pytest.fixture
def key(db) -> str:
    return factories.api_key("timeouts", scopes=["read", "send", "manage"])[1]


@pytest.fixture
def locked_logs(db):
    """notification_logs locked by another session, so every statement reading it waits."""
    options = connection.settings_dict
    other = psycopg.connect(dbname=options["NAME"], host=options["HOST"], port=options["PORT"] or 5432,
                            user=options["USER"], password=options["PASSWORD"] or None)
    other.execute("LOCK TABLE notification_logs IN ACCESS EXCLUSIVE MODE")
    yield
    other.rollback()
    other.close()


def _graphql(client, key: str, query: str, url: str = "/graphql/") -> dict:
    response = client.post(url, {"query": query}, content_type="application/json",
                           headers={"Authorization": f"Api-Key {key}"})
    assert response.status_code == 200, response.content
    return response.json()


def _show_statement_timeout() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        return cursor.fetchone()[0]


@pytest.mark.urls("tests.ops.slow_graphql")
def test_a_slow_graphql_operation_is_stopped_at_the_deadline_with_one_timeout_error(client, key, settings):
    settings.GRAPHQL_TIMEOUT_MS = 300
    slow_graphql.resolved.clear()

    answer = _graphql(client, key, "{ items(count: 20) { number slow } }", url="/graphql-slow/")

    assert [error["extensions"]["code"] for error in answer["errors"]] == ["TIMEOUT"]
    assert answer["errors"][0]["message"] == "The operation ran past its time limit of 300 ms and was stopped."
    assert 0 < len(slow_graphql.resolved) < 20  # it ran, and stopped: 20 fields take a second


@pytest.mark.urls("tests.ops.slow_graphql")
def test_without_a_deadline_the_same_operation_runs_to_the_end(client, key, settings):
    settings.GRAPHQL_TIMEOUT_MS = 0
    slow_graphql.resolved.clear()

    answer = _graphql(client, key, "{ items(count: 10) { slow } }", url="/graphql-slow/")

    assert "errors" not in answer and len(answer["data"]["items"]) == 10


@postgresql_only
@pytest.mark.urls("tests.ops.slow_graphql")
def test_a_graphql_statement_is_cancelled_inside_the_database(client, key, settings):
    settings.DATABASE_STATEMENT_TIMEOUT_MS = 10_000
    settings.GRAPHQL_TIMEOUT_MS = 300

    answer = _graphql(client, key, "{ databaseSleep(seconds: 30) }", url="/graphql-slow/")

    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert "300 ms" in answer["errors"][0]["message"]


@postgresql_only
def test_a_graphql_query_waiting_on_a_lock_times_out(client, key, settings, locked_logs):
    settings.DATABASE_STATEMENT_TIMEOUT_MS = 300

    answer = _graphql(client, key, "{ userNotifications(userId: 7) { pagination { total } } }")

    assert answer["errors"][0]["extensions"]["code"] == "TIMEOUT"
    assert answer["errors"][0]["message"] == "The request ran past its time limit of 300 ms and was stopped."


@postgresql_only
def test_a_rest_request_waiting_on_a_lock_answers_503_naming_the_limit(client, key, settings, locked_logs):
    settings.DATABASE_STATEMENT_TIMEOUT_MS = 300

    response = client.get("/api/v1/notifications/?user_id=7", headers={"Authorization": f"Api-Key {key}"})

    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["detail"].startswith("The request ran past its time limit of 300 ms and was stopped")


@postgresql_only
def test_api_requests_carry_the_timeout_and_other_pages_the_servers_default(client, key, settings):
    settings.DATABASE_STATEMENT_TIMEOUT_MS = 10_000
    settings.GRAPHQL_TIMEOUT_MS = 5_000
    auth = {"Authorization": f"Api-Key {key}"}

    assert client.get("/api/v1/templates/", headers=auth).status_code == 200
    assert _show_statement_timeout() == "10s"
    _graphql(client, key, "{ notificationTemplates { pagination { total } } }")
    assert _show_statement_timeout() == "5s"
    assert client.get("/health/ready").status_code == 200
    assert _show_statement_timeout() == "0"
