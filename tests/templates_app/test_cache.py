"""Templates by name through the shared cache: read once, cleared by every save, rename and delete."""

import pytest

from templates_app.selectors import template_get_by_name
from templates_app.services import template_create, template_delete, template_update

# Outside a test transaction, so that on-commit clearing runs as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_template_is_read_from_the_database_once(django_assert_num_queries):
    template_create(name="code_sms", type="sms", body="Code {{ code }}")
    with django_assert_num_queries(1):
        first = template_get_by_name(name="code_sms")
    with django_assert_num_queries(0):
        again = template_get_by_name(name="code_sms")
    assert (again.pk, again.body, again.version, again.variables) == (first.pk, first.body, 1, {"code": None})


def test_an_update_is_seen_by_the_next_send():
    template = template_create(name="code_sms", type="sms", body="Code {{ code }}")
    template_get_by_name(name="code_sms")
    template_update(template=template, body="Your code: {{ code }}")
    fresh = template_get_by_name(name="code_sms")
    assert (fresh.body, fresh.version) == ("Your code: {{ code }}", 2)


def test_a_rename_frees_the_old_name_and_a_delete_forgets_the_template():
    template = template_create(name="code_sms", type="sms", body="Code {{ code }}")
    template_get_by_name(name="code_sms")
    template_update(template=template, name="login_sms")
    assert template_get_by_name(name="code_sms") is None
    assert template_get_by_name(name="login_sms").pk == template.pk
    template_delete(template=template_get_by_name(name="login_sms"))
    assert template_get_by_name(name="login_sms") is None


def test_a_missing_name_is_not_remembered():
    assert template_get_by_name(name="later") is None
    template_create(name="later", type="sms", body="Hi")
    assert template_get_by_name(name="later").body == "Hi"
