"""`{{ preferences_url }}`: any email template links to its recipient's preference page without the calling
service passing anything; the link works (it opens that user's page) and the log does not keep it."""

import re

import pytest
from django.test import Client

from logs_app.models import NotificationLog
from logs_app.pipeline.trigger import notification_trigger
from preferences_app.services import preference_update
from templates_app.models import NotificationTemplate
from templates_app.services import template_create, template_update
from tests import factories

pytestmark = pytest.mark.django_db

BASE = "https://notify.example.com"
TEXT = "Hi {{ first_name }}.\n\nManage preferences: {{ preferences_url }}\n"
HTML = '<p>Hi {{ first_name }}.</p><p><a href="{{ preferences_url }}">Manage preferences</a></p>'


@pytest.fixture(autouse=True)
def smtp(fake_smtp, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp.port
    settings.NOTIFICATION_PUBLIC_BASE_URL = BASE
    return fake_smtp


@pytest.fixture
def api(make_client):
    return make_client()


@pytest.fixture
def users(db):
    preference_update(user_id=1001, email="ada@example.com", timezone="Europe/Berlin")
    preference_update(user_id=1002, email="bob@example.com", timezone="America/Chicago")


def text_and_html(mail) -> tuple[str, str]:
    parts = {part.get_content_type(): part.get_content() for part in mail.message.walk() if not part.is_multipart()}
    return parts["text/plain"], parts.get("text/html", "")


def link_in(text: str) -> str:
    (url,) = re.findall(rf"{re.escape(BASE)}/u/[^\s\"<]+", text)
    return url


def selected_timezone(page: str) -> str:
    return re.search(r"<option selected>([^<]+)</option>", page).group(1)


def test_a_template_using_it_is_saved_without_declaring_it(api):
    response = api.post("/api/v1/templates/", {
        "name": "newsletter", "type": "email", "subject": "News for {{ first_name }}", "body": TEXT,
        "html_body": HTML, "variables": {"first_name": "Ada"}}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["variables"] == {"first_name": "Ada"}
    derived = template_create(name="digest", type="email", subject="Digest", body=TEXT, html_body="", variables=None)
    assert derived.variables == {"first_name": None}  # what a caller must pass; the link is not the caller's


def test_an_sms_template_gets_no_link_of_ours(api):
    sms = template_create(name="sms_note", type="sms", subject=None, body="See {{ preferences_url }}",
                          html_body="", variables=None)
    assert sms.variables == {"preferences_url": None}  # a variable the caller passes, as any other


def test_a_sent_email_carries_a_working_link_to_its_users_page(api, users, smtp, django_capture_on_commit_callbacks):
    api.post("/api/v1/templates/", {"name": "newsletter", "type": "email", "subject": "News", "body": TEXT,
                                    "html_body": HTML}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/notifications/", {
            "user_id": 1001, "template_name": "newsletter",
            "context": {"first_name": "Ada", "preferences_url": "https://evil.example/"}}, format="json")
    assert response.status_code == 202, response.json()

    (mail,) = smtp.messages
    text, html = text_and_html(mail)
    url = link_in(text)
    assert f'<a href="{url}">Manage preferences</a>' in html
    assert "evil.example" not in text + html  # the service's own link, whatever the context says
    page = Client().get(url.removeprefix(BASE))
    assert page.status_code == 200
    assert "Notification preferences" in page.content.decode()
    assert selected_timezone(page.content.decode()) == "Europe/Berlin"  # Ada's page

    log = NotificationLog.objects.get(pk=response.json()["id"])
    assert "/u/" not in log.body + log.html_body  # the log keeps no working link
    assert "Manage preferences: {{preferences_url}}" in log.body


def test_each_recipient_of_one_trigger_gets_their_own_link(users, smtp, django_capture_on_commit_callbacks):
    marketing = factories.CategoryFactory(key="marketing", name="Marketing")
    factories.NotificationKindFactory(key="newsletter", category=marketing, channels=["email"])
    template_update(template=NotificationTemplate.objects.get(name="newsletter_email"), body=TEXT)
    with django_capture_on_commit_callbacks(execute=True):
        notification_trigger(kind="newsletter", user_ids=[1001, 1002], context={"first_name": "you"}, client="t")

    assert len(smtp.messages) == 2
    by_user = {mail.rcpt_tos[0]: link_in(text_and_html(mail)[0]) for mail in smtp.messages}
    assert by_user["ada@example.com"] != by_user["bob@example.com"]
    for address, zone in (("ada@example.com", "Europe/Berlin"), ("bob@example.com", "America/Chicago")):
        page = Client().get(by_user[address].removeprefix(BASE))
        assert page.status_code == 200 and selected_timezone(page.content.decode()) == zone
