"""Template queries and mutations (templates_app/schema.py)."""

import json

import pytest

from templates_app.models import NotificationTemplate, NotificationType, TemplateVersion
from tests import factories
from tests.graphql.conftest import error_codes

LIST = """
query($pagination: PaginationInput, $typeFilter: String) {
  notificationTemplates(pagination: $pagination, typeFilter: $typeFilter) {
    items { id name type }
    pagination { total page size pages }
  }
}
"""

ONE = "query($id: Int!) { notificationTemplate(id: $id) { id name subject body type variables version } }"

CREATE = """
mutation($input: NotificationTemplateCreateInput!) {
  createNotificationTemplate(input: $input) { id name subject body type variables version createdAt updatedAt }
}
"""

UPDATE = """
mutation($id: Int!, $input: NotificationTemplateUpdateInput!) {
  updateNotificationTemplate(id: $id, input: $input) { id name subject body variables version }
}
"""

DELETE = "mutation($id: Int!) { deleteNotificationTemplate(id: $id) }"


@pytest.fixture
def templates(db):
    return [factories.NotificationTemplateFactory(name=f"email_{n}") for n in range(3)] + [
        factories.NotificationTemplateFactory(name="sms_1", type=NotificationType.SMS, subject=None)
    ]


def test_list_pages_templates_by_name(gql, templates):
    result = gql(LIST, {"pagination": {"page": 2, "size": 3}})["data"]["notificationTemplates"]

    assert [item["name"] for item in result["items"]] == ["sms_1"]
    assert result["pagination"] == {"total": 4, "page": 2, "size": 3, "pages": 2}


def test_list_defaults_to_the_first_page_of_fifty(gql, templates):
    result = gql(LIST)["data"]["notificationTemplates"]

    assert result["pagination"] == {"total": 4, "page": 1, "size": 50, "pages": 1}


@pytest.mark.parametrize("type_filter", ["sms", "SMS"])
def test_list_filters_by_type(gql, templates, type_filter):
    result = gql(LIST, {"typeFilter": type_filter})["data"]["notificationTemplates"]

    assert [(item["name"], item["type"]) for item in result["items"]] == [("sms_1", "SMS")]


@pytest.mark.parametrize(("pagination", "field"), [({"size": 101}, "size"), ({"size": 0}, "size"),
                                                   ({"page": 0}, "page")])
def test_list_refuses_pages_outside_the_caps(gql, templates, pagination, field):
    answer = gql(LIST, {"pagination": pagination})

    assert answer["data"] is None
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert field in answer["errors"][0]["extensions"]["fieldErrors"]


def test_list_refuses_an_unknown_type(gql, templates):
    answer = gql(LIST, {"typeFilter": "fax"})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert "email, sms, push" in answer["errors"][0]["message"]


def test_one_template_with_variables_as_a_json_string(gql, template):
    result = gql(ONE, {"id": template.pk})["data"]["notificationTemplate"]

    assert result["name"] == template.name and result["type"] == "EMAIL" and result["version"] == 1
    assert json.loads(result["variables"]) == {"first_name": "Ada", "code": "1234"}


def test_an_unknown_template_is_null(gql, db):
    answer = gql(ONE, {"id": 999})

    assert answer == {"data": {"notificationTemplate": None}}


def test_create_makes_version_one_and_records_the_key(gql, api_key):
    template_input = {"name": "welcome", "type": "EMAIL", "subject": "Welcome {{ name }}",
                      "body": "Hello {{ name }}", "variables": '{"name": "Ada"}'}

    answer = gql(CREATE, {"input": template_input})

    assert "errors" not in answer
    result = answer["data"]["createNotificationTemplate"]
    assert (result["name"], result["type"], result["version"]) == ("welcome", "EMAIL", 1)
    assert json.loads(result["variables"]) == {"name": "Ada"}
    version = TemplateVersion.objects.get(template_id=result["id"])
    assert version.created_by == f"api:{api_key.split('.')[0]}"


def test_create_reads_variables_from_the_placeholders_when_omitted(gql, db):
    template_input = {"name": "code", "type": "SMS", "body": "Your code is {{ code }}"}

    result = gql(CREATE, {"input": template_input})["data"]["createNotificationTemplate"]

    assert json.loads(result["variables"]) == {"code": None}


@pytest.mark.parametrize(("changes", "field"), [
    ({"variables": '{"name": '}, "variables"),
    ({"variables": '{"other": 1}'}, "variables"),
    ({"subject": None}, "subject"),
    ({"body": "Hello {{ name"}, "body"),
])
def test_create_refuses_bad_input_naming_the_field(gql, db, changes, field):
    template_input = {"name": "welcome", "type": "EMAIL", "subject": "Hi", "body": "Hello {{ name }}", **changes}

    answer = gql(CREATE, {"input": template_input})

    assert answer["data"] is None
    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert field in answer["errors"][0]["extensions"]["fieldErrors"]
    assert not NotificationTemplate.objects.exists()


def test_create_refuses_a_taken_name(gql, template):
    template_input = {"name": template.name, "type": "SMS", "body": "Hi"}

    answer = gql(CREATE, {"input": template_input})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    assert "name" in answer["errors"][0]["extensions"]["fieldErrors"]


def test_create_refuses_an_unknown_type_before_running(gql, db):
    answer = gql(CREATE, {"input": {"name": "x", "type": "FAX", "body": "Hi"}})

    assert error_codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]


def test_update_changes_only_the_given_fields_and_makes_a_version(gql, template):
    answer = gql(UPDATE, {"id": template.pk, "input": {"body": "Hi {{ first_name }}, code {{ code }}."}})

    result = answer["data"]["updateNotificationTemplate"]
    assert result["version"] == 2
    assert result["subject"] == template.subject and result["name"] == template.name
    assert json.loads(result["variables"]) == {"first_name": "Ada", "code": "1234"}
    assert template.versions.count() == 2


def test_update_of_an_unknown_template_is_null(gql, db):
    # As the seed's Optional[NotificationTemplate]: no error (a client error a fuzzer would count as the server's).
    answer = gql(UPDATE, {"id": 999, "input": {"body": "Hi"}})

    assert answer == {"data": {"updateNotificationTemplate": None}}


def test_update_refuses_variables_that_disagree_with_the_text(gql, template):
    answer = gql(UPDATE, {"id": template.pk, "input": {"variables": '["first_name"]'}})

    assert error_codes(answer) == ["BAD_USER_INPUT"]
    field_errors = answer["errors"][0]["extensions"]["fieldErrors"]
    assert "code" in field_errors["body"][0] and "variables" not in field_errors  # the text uses it undeclared
    template.refresh_from_db()
    assert template.version == 1


def test_delete_removes_the_template(gql, template):
    answer = gql(DELETE, {"id": template.pk})

    assert answer == {"data": {"deleteNotificationTemplate": True}}
    assert not NotificationTemplate.objects.filter(pk=template.pk).exists()


def test_delete_of_an_unknown_template_is_false(gql, db):
    answer = gql(DELETE, {"id": 999})

    assert answer == {"data": {"deleteNotificationTemplate": False}}
