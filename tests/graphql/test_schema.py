"""The root schema (notifications_project/schema.py): auth and scopes, error codes, limits, introspection, GraphiQL."""

import datetime as dt
import logging

import pytest
from django.utils import timezone
from graphql import get_introspection_query

from apikeys_app.services import api_key_revoke
from notifications_project.schema import schema
from tests import factories
from tests.graphql.conftest import error_codes
from tests.graphql.test_seed_examples import QUERY_EXAMPLE

OPERATIONS = {
    "notificationTemplates": ("read", "{ notificationTemplates { items { id } } }"),
    "notificationTemplate": ("read", "{ notificationTemplate(id: 1) { id } }"),
    "userNotifications": ("read", "{ userNotifications(userId: 1) { items { id } } }"),
    "userPreferences": ("read", "{ userPreferences(userId: 1) { userId } }"),
    "sendNotification": ("send", 'mutation { sendNotification(input: {userId: 1, templateName: "t", context: "{}"})'
                                 " { id } }"),
    "createNotificationTemplate": ("manage", 'mutation { createNotificationTemplate(input: {name: "t", type: SMS,'
                                             ' body: "Hi"}) { id } }'),
    "updateNotificationTemplate": ("manage", 'mutation { updateNotificationTemplate(id: 1, input: {body: "Hi"})'
                                             " { id } }"),
    "deleteNotificationTemplate": ("manage", "mutation { deleteNotificationTemplate(id: 1) }"),
    "updateUserPreferences": ("manage", "mutation { updateUserPreferences(userId: 1, input: {smsEnabled: false})"
                                        " { userId } }"),
}


def test_every_seed_operation_is_in_the_schema():
    sdl = schema.as_str()
    for name in OPERATIONS:
        assert f"  {name}(" in sdl


# Authentication and scopes --------------------------------------------------------------------


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_key_is_unauthenticated(gql, db, operation):
    answer = gql(OPERATIONS[operation][1], key=None)

    assert error_codes(answer) == ["UNAUTHENTICATED"]
    assert answer["errors"][0]["message"].startswith("Missing API key")
    assert answer["errors"][0]["path"] == [operation]


@pytest.mark.parametrize(("authorization", "words"), [
    ("Api-Key not.a-real-key", "Invalid or revoked"),
    ("Bearer abc", "Malformed"),
])
def test_a_bad_key_is_unauthenticated(gql, db, authorization, words):
    answer = gql(OPERATIONS["notificationTemplates"][1], authorization=authorization)

    assert error_codes(answer) == ["UNAUTHENTICATED"]
    assert words in answer["errors"][0]["message"]


def test_a_revoked_key_is_unauthenticated(gql, db):
    key, raw = factories.api_key("old")
    api_key_revoke(key=key)

    answer = gql(OPERATIONS["notificationTemplates"][1], key=raw)

    assert error_codes(answer) == ["UNAUTHENTICATED"]


def test_an_expired_key_is_unauthenticated(gql, db):
    key, raw = factories.api_key("expired")
    key.expiry_date = timezone.now() - dt.timedelta(days=1)
    key.save()

    answer = gql(OPERATIONS["notificationTemplates"][1], key=raw)

    assert error_codes(answer) == ["UNAUTHENTICATED"]
    assert "expired" in answer["errors"][0]["message"]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_key_without_the_scope_is_forbidden(gql, db, operation):
    scope, query = OPERATIONS[operation]
    _, raw = factories.api_key("narrow", scopes=[s for s in ("read", "send", "manage") if s != scope])

    answer = gql(query, key=raw)

    assert error_codes(answer) == ["FORBIDDEN"]
    assert answer["errors"][0]["message"] == f"This API key lacks the '{scope}' scope."


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_key_with_the_scope_gets_past_auth(gql, db, operation):
    scope, query = OPERATIONS[operation]
    _, raw = factories.api_key("exact", scopes=[scope])

    answer = gql(query, key=raw)

    assert not {"UNAUTHENTICATED", "FORBIDDEN"} & set(error_codes(answer))


def test_the_key_is_checked_once_per_request(gql, db, django_assert_max_num_queries):
    query = "{ a: notificationTemplate(id: 1) { id } b: notificationTemplate(id: 2) { id } }"

    with django_assert_max_num_queries(3):  # the key, then one query per field
        answer = gql(query)

    assert answer == {"data": {"a": None, "b": None}}


# Errors ---------------------------------------------------------------------------------------


def test_an_unexpected_failure_is_masked_and_logged_once_with_its_traceback(gql, db, monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("connection to 10.0.0.5 refused")

    monkeypatch.setattr("templates_app.selectors.template_list", broken)

    with caplog.at_level(logging.INFO, logger="notifications_project.schema"):
        answer = gql("query Templates { notificationTemplates { items { id } } }")

    assert answer["data"] is None
    assert answer["errors"] == [{"message": "Internal server error.", "locations": [{"line": 1, "column": 19}],
                                 "path": ["notificationTemplates"],
                                 "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    records = [r for r in caplog.records if r.name == "notifications_project.schema"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert (record.error_code, record.graphql_operation, record.graphql_path) == (
        "INTERNAL_SERVER_ERROR", "Templates", "notificationTemplates")


def test_a_refused_request_is_logged_once_without_a_traceback(gql, db, caplog):
    with caplog.at_level(logging.INFO, logger="notifications_project.schema"):
        gql("{ userPreferences(userId: 0) { userId } }")

    records = [r for r in caplog.records if r.name == "notifications_project.schema"]
    assert len(records) == 1
    assert records[0].levelno == logging.INFO and records[0].exc_info is None
    assert records[0].error_code == "BAD_USER_INPUT"


def test_a_syntax_error_is_a_parse_failure(gql, db):
    answer = gql("{ notificationTemplates { items { id } ")

    assert error_codes(answer) == ["GRAPHQL_PARSE_FAILED"]


def test_an_unknown_field_is_a_validation_failure(gql, db):
    answer = gql("{ notificationTemplates { items { password } } }")

    assert error_codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "password" in answer["errors"][0]["message"]


# Limits ---------------------------------------------------------------------------------------


def test_the_depth_limit_refuses_deeper_operations(gql, db, settings):
    settings.GRAPHQL_MAX_DEPTH = 2

    answer = gql(QUERY_EXAMPLE, {"userId": 1})

    assert "data" not in answer or answer["data"] is None
    assert set(error_codes(answer)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "exceeds maximum operation depth of 2" in answer["errors"][0]["message"]


def test_the_seed_query_fits_the_default_depth(gql, db):
    assert "errors" not in gql(QUERY_EXAMPLE, {"userId": 1})


def test_the_alias_limit_refuses_many_aliases(gql, db, settings):
    settings.GRAPHQL_MAX_ALIASES = 3
    fields = " ".join(f"t{n}: notificationTemplate(id: {n}) {{ id }}" for n in range(4))

    answer = gql(f"{{ {fields} }}")

    assert error_codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "aliases" in answer["errors"][0]["message"]


def test_the_token_limit_refuses_huge_documents(gql, db, settings):
    settings.GRAPHQL_MAX_TOKENS = 50
    fields = " ".join("id name body" for _ in range(20))

    answer = gql(f"{{ notificationTemplates {{ items {{ {fields} }} }} }}")

    assert error_codes(answer) == ["GRAPHQL_PARSE_FAILED"]
    assert "tokens" in answer["errors"][0]["message"]


# Introspection and GraphiQL -------------------------------------------------------------------


def test_introspection_works_by_default_without_a_key(gql, db):
    answer = gql(get_introspection_query(descriptions=True), key=None)

    assert "errors" not in answer
    names = {t["name"] for t in answer["data"]["__schema"]["types"]}
    assert {"NotificationTemplate", "NotificationLog", "UserPreference", "NotificationRequestInput"} <= names


def test_introspection_can_be_turned_off(gql, db, settings):
    settings.GRAPHQL_INTROSPECTION = False

    answer = gql("{ __schema { types { name } } }")

    assert set(error_codes(answer)) == {"GRAPHQL_VALIDATION_FAILED"}
    assert "introspection" in answer["errors"][0]["message"].lower()
    assert "errors" not in gql(QUERY_EXAMPLE, {"userId": 1})


def test_graphiql_loads_in_a_browser_without_a_key(client, db):
    response = client.get("/graphql/", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()


def test_queries_also_work_over_get(client, api_key):
    response = client.get("/graphql/", {"query": "{ notificationTemplates { pagination { total } } }"},
                          headers={"Authorization": f"Api-Key {api_key}"})

    assert response.json() == {"data": {"notificationTemplates": {"pagination": {"total": 0}}}}


@pytest.mark.parametrize("document", [
    "{ notificationTemplates " + "{ items " * 900 + "{ id }" + " }" * 901,
    "{ notificationTemplate(id: " + "[" * 1800 + "1" + "]" * 1800 + ") { id } }",
])
def test_a_document_nested_past_the_recursion_limit_is_refused(gql, db, document):
    answer = gql(document)

    assert error_codes(answer) == ["GRAPHQL_PARSE_FAILED"]
    assert "nested too deeply" in answer["errors"][0]["message"]
