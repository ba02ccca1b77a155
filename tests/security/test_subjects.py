"""A subject is one line of text: every character str.splitlines() breaks at, and every other control character,
is refused when a send is accepted (rendered subject) and when a template is saved, as a 400 naming `subject`."""

import pytest

from logs_app.models import NotificationLog
from tests import factories

pytestmark = pytest.mark.django_db

BREAKS = ["\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
OTHER_CONTROLS = ["\x07", "\t", "\x1b", "\x7f", "\x9b"]  # NUL: a context holding it is refused as `context`


def test_the_list_is_what_python_breaks_lines_at():
    assert all(len(f"a{char}b".splitlines()) == 2 for char in BREAKS)


@pytest.mark.parametrize("char", BREAKS + OTHER_CONTROLS, ids=lambda char: f"U+{ord(char):04X}")
@pytest.mark.parametrize("channel", ["email", "push"])
def test_a_send_whose_subject_renders_with_a_break_or_control_is_a_400(api, char, channel):
    factories.NotificationTemplateFactory(name="hello", type=channel, subject="Hi {{ name }}", body="Body",
                                          variables={"name": "Ada"})
    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello",
                                                   "recipient": "ada@example.com" if channel == "email" else "a" * 64,
                                                   "context": {"name": f"Ada{char}Bcc: x@example.com"}}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == ["subject"]
    assert f"U+{ord(char):04X}" in response.json()["errors"]["subject"][0]
    assert not NotificationLog.objects.exists()


def test_a_body_keeps_its_lines(api):
    factories.NotificationTemplateFactory(name="hello", type="email", subject="Hi {{ name }}",
                                          body="Line one\nLine two\f{{ name }}", variables={"name": "Ada"})
    response = api.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello",
                                                   "recipient": "ada@example.com", "context": {"name": "Ada"}},
                        format="json")
    assert response.status_code == 202, response.json()


@pytest.mark.parametrize("char", ["\v", "\x1c", "\u2028", "\x00"], ids=lambda char: f"U+{ord(char):04X}")
def test_a_template_subject_with_a_break_or_control_is_refused(api, char):
    response = api.post("/api/v1/templates/", {"name": "hello", "type": "email", "subject": f"Hi{char}there",
                                               "body": "Body"}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == ["subject"]


def test_a_bulk_send_and_a_trigger_refuse_it_too(api):
    factories.NotificationTemplateFactory(name="hello", type="email", subject="Hi {{ name }}", body="Body",
                                          variables={"name": "Ada"})
    bulk = api.post("/api/v1/notifications/bulk/", {"user_ids": [1001], "template_name": "hello",
                                                    "context": {"name": "A\x85B"}}, format="json")
    assert bulk.status_code == 400 and list(bulk.json()["errors"]) == ["subject"]
    factories.NotificationKindFactory(key="order_shipped")
    trigger = api.post("/api/v1/triggers/", {"kind": "order_shipped", "user_ids": [1001],
                                             "context": {"first_name": "A\u2029B", "code": "1"}}, format="json")
    assert trigger.status_code == 400 and list(trigger.json()["errors"]) == ["subject"], trigger.json()
