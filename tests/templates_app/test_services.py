import pytest
from django.core.exceptions import ValidationError

from logs_app.selectors import log_get
from templates_app.models import NotificationTemplate, TemplateVersion
from templates_app.services import (
    template_create, template_delete, template_preview, template_render, template_update,
)
from tests.factories import NotificationLogFactory

pytestmark = pytest.mark.django_db


def make(**overrides) -> NotificationTemplate:
    spec = {"name": "welcome", "type": "email", "subject": "Hi {{ name }}", "body": "Welcome, {{ name }}!",
            "variables": {"name": "Ada"}}
    return template_create(**{**spec, **overrides})


def test_create_keeps_version_one():
    template = make()
    assert template.version == 1
    assert list(template.versions.values_list("version", "body")) == [(1, "Welcome, {{ name }}!")]


def test_variables_are_derived_when_not_declared():
    template = make(variables=None, body="{{ a }} and {{ b }}", subject="{{ a }}")
    assert template.variables == {"a": None, "b": None}


def test_variables_given_as_a_list_of_names():
    assert make(variables=["name"]).variables == {"name": None}


def test_changing_the_body_keeps_the_old_text_as_a_version():
    template = make()
    template = template_update(template=template, body="Hello again, {{ name }}.", updated_by="ops")
    assert template.version == 2
    versions = {v.version: v for v in TemplateVersion.objects.filter(template=template)}
    assert versions[1].body == "Welcome, {{ name }}!"
    assert versions[2].body == "Hello again, {{ name }}." and versions[2].created_by == "ops"


def test_renaming_is_not_a_new_version():
    template = template_update(template=make(), name="welcome_v2")
    assert (template.name, template.version, template.versions.count()) == ("welcome_v2", 1, 1)


def test_update_keeps_examples_of_variables_still_used():
    template = template_update(template=make(), body="Bye {{ name }}, see you {{ when }}.")
    assert template.variables == {"name": "Ada", "when": None}


@pytest.mark.parametrize("overrides, field, message", [
    ({"variables": {"name": "Ada", "extra": 1}}, "variables", "Declared but not used: extra"),
    ({"body": "{{ name }} {{ surprise }}"}, "body", "the variables do not declare: surprise"),
    ({"subject": "Hi {{ nme }}"}, "subject", "the variables do not declare: nme"),
    ({"subject": ""}, "subject", "Email templates need a subject."),
    ({"type": "sms", "html_body": "<p>{{ name }}</p>"}, "html_body", "Only email templates have an HTML body."),
    ({"type": "fax"}, "type", "Must be one of: email, sms, push, in_app."),
    ({"body": "   "}, "body", "This field may not be blank."),
    ({"body": "{{ name.__class__ }}"}, "body", "attributes starting with '_'"),
    ({"body": "{% for %}"}, "body", "Template syntax error on line 1"),
])
def test_invalid_templates_are_refused_with_the_field_and_reason(overrides, field, message):
    with pytest.raises(ValidationError) as excinfo:
        make(**overrides)
    assert message in " ".join(excinfo.value.message_dict[field])
    assert not NotificationTemplate.objects.exists()


def test_duplicate_name_is_a_validation_error():
    make()
    with pytest.raises(ValidationError) as excinfo:
        make()
    assert "name" in excinfo.value.message_dict


def test_update_rejects_unknown_fields():
    with pytest.raises(ValidationError) as excinfo:
        template_update(template=make(), colour="red")
    assert excinfo.value.message_dict == {"colour": ["Unknown field."]}


def test_render_with_example_values_when_no_context():
    message = template_render(template=make())
    assert (message.subject, message.body) == ("Hi Ada", "Welcome, Ada!")


def test_preview_of_unsaved_text_reports_missing_variable():
    with pytest.raises(ValidationError) as excinfo:
        template_preview(type="sms", subject=None, body="Code {{ code }}", html_body="", variables=None,
                         context={"other": 1})
    assert excinfo.value.message_dict == {"context": ["Missing variable: code"]}


def test_deleting_a_template_keeps_its_logs_readable():
    template = make()
    log = NotificationLogFactory(template=template, template_name=template.name)
    template_delete(template=template)
    log = log_get(id=log.id)
    assert log.template is None
    assert (log.template_name, log.subject) == ("welcome", "Hello Ada")
