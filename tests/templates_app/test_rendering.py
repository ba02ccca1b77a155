import pytest
from django.core.exceptions import ValidationError

from templates_app.rendering import placeholders, render_parts


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


def test_renders_subject_body_and_html():
    message = render_parts(
        {"subject": "Hi {{ name }}", "body": "Code {{ code }}", "html_body": "<b>{{ name }}</b>"},
        {"name": "Ada", "code": 42},
    )
    assert (message.subject, message.body, message.html_body) == ("Hi Ada", "Code 42", "<b>Ada</b>")


def test_missing_variable_is_named_and_nothing_renders():
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"subject": "Hi {{ name }}", "body": "Your code is {{ code }}"}, {"name": "Ada"})
    assert errors_of(excinfo) == {"context": ["Missing variable: code"]}


def test_every_missing_variable_is_named():
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": "{{ b }} {{ a }}"}, {})
    assert errors_of(excinfo) == {"context": ["Missing variables: a, b"]}


def test_missing_nested_attribute_is_an_error_not_a_blank():
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": "Hi {{ user.first_name }}"}, {"user": {"last_name": "Lovelace"}})
    assert "first_name" in errors_of(excinfo)["context"][0]


def test_html_body_is_autoescaped_text_body_is_not():
    evil = '<script>alert("x")</script>'
    message = render_parts({"body": "{{ v }}", "html_body": "<p>{{ v }}</p>"}, {"v": evil})
    assert message.body == evil
    assert message.html_body == "<p>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</p>"


@pytest.mark.parametrize("payload", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''['__class__'] }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__ }}",
])
def test_sandbox_escapes_are_refused_before_rendering(payload):
    with pytest.raises(ValidationError) as excinfo:
        placeholders({"body": payload})
    assert "attributes starting with '_'" in errors_of(excinfo)["body"][0]


def test_sandbox_refuses_unsafe_attribute_reached_through_context():
    # The attribute name arrives as data, so only the sandbox itself can stop it.
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": "{{ s|attr(name) }}"}, {"s": "x", "name": "__class__"})
    assert "sandbox" in errors_of(excinfo)["body"][0]


def test_syntax_error_names_the_field_and_line():
    with pytest.raises(ValidationError) as excinfo:
        placeholders({"subject": "ok", "body": "line one\n{% if x %}never closed"})
    assert errors_of(excinfo)["body"][0].startswith("Template syntax error on line 2")


def test_immutable_sandbox_refuses_mutating_context():
    with pytest.raises(ValidationError) as excinfo:
        render_parts({"body": "{{ items.append(1) }}"}, {"items": []})
    assert "sandbox" in errors_of(excinfo)["body"][0]
