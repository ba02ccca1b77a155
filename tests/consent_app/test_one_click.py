"""One-click unsubscribe (RFC 8058): the headers a real SMTP server receives, and the POST that honours them."""

import re
import time

import pytest
from django.test import Client

from consent_app.models import ConsentRecord
from consent_app.tokens import token_make
from logs_app.models import NotificationLog
from logs_app.pipeline.trigger import notification_trigger
from preferences_app.categories import settings_get
from tests import factories

pytestmark = pytest.mark.django_db

CONTEXT = {"first_name": "Ada", "code": "1234"}
BASE = "https://notify.example.com"


@pytest.fixture(autouse=True)
def smtp(fake_smtp, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake_smtp.port
    settings.NOTIFICATION_PUBLIC_BASE_URL = BASE
    return fake_smtp


@pytest.fixture
def kinds(db):
    marketing = factories.CategoryFactory(key="marketing", name="Marketing")
    return {
        "newsletter": factories.NotificationKindFactory(key="newsletter", category=marketing, channels=["email"]),
        "receipt": factories.NotificationKindFactory(key="receipt", channels=["email"]),  # transactional
        "breach": factories.NotificationKindFactory(key="breach", category=marketing, critical=True,
                                                    channels=["email"]),
    }


@pytest.fixture
def ada(db):
    return factories.UserPreferenceFactory(user_id=1001, email="ada@example.com")


@pytest.fixture
def trigger(django_capture_on_commit_callbacks):
    def run(kind: str, user_id: int = 1001) -> NotificationLog:
        with django_capture_on_commit_callbacks(execute=True):
            result, _ = notification_trigger(kind=kind, user_ids=[user_id], context=CONTEXT, client="tests")
        return NotificationLog.objects.get(trigger_id=result.trigger.id)

    return run


def unsubscribe_url(mail) -> str:
    (url,) = re.findall(r"<(https://[^>]+)>", mail.message["List-Unsubscribe"])
    return url.removeprefix(BASE)


def one_click(path: str):
    # A mail client's POST: no cookie, no CSRF token, nothing but the form field.
    return Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})


def test_a_marketing_email_carries_both_headers_and_one_click_turns_the_category_off(kinds, ada, trigger, smtp):
    assert trigger("newsletter").status == "sent"
    (mail,) = smtp.messages
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = unsubscribe_url(mail)
    assert path.startswith("/u/")

    response = one_click(path)
    assert response.status_code == 200
    assert response.content.decode().strip() == "You will no longer receive Marketing notifications by email."
    assert settings_get(user_id=1001)["categories"] == {"marketing": {"email": False}}
    record = ConsentRecord.objects.get(user_id=1001)
    assert (record.source, record.field, record.old_value, record.new_value) == (
        "one_click", "categories.marketing.email", None, "off")

    log = trigger("newsletter")
    assert log.status == "suppressed"
    assert log.error_message == "Suppressed: The user turned off email for the category 'marketing'."
    assert len(smtp.messages) == 1
    assert one_click(path).status_code == 200  # a second click changes nothing and still answers 200
    assert ConsentRecord.objects.count() == 1


def test_a_mailto_is_offered_beside_the_url_when_configured(kinds, ada, trigger, smtp, settings):
    settings.NOTIFICATION_UNSUBSCRIBE_MAILTO = "unsubscribe@notify.example.com"
    trigger("newsletter")
    header = " ".join(smtp.messages[0].message["List-Unsubscribe"].split())  # unfolded
    assert re.fullmatch(r"<https://notify\.example\.com/u/[^>]+>, <mailto:unsubscribe@notify\.example\.com"
                        r"\?subject=unsubscribe%20[^>]+>", header), header


def test_transactional_and_critical_kinds_carry_no_unsubscribe_header(kinds, ada, trigger, smtp):
    assert trigger("receipt").status == "sent" and trigger("breach").status == "sent"
    assert len(smtp.messages) == 2
    for mail in smtp.messages:
        assert mail.message["List-Unsubscribe"] is None and mail.message["List-Unsubscribe-Post"] is None


def test_a_token_edited_to_another_user_is_refused_and_changes_nothing(kinds, ada, trigger, smtp):
    factories.UserPreferenceFactory(user_id=1002, email="bob@example.com")
    trigger("newsletter")
    ada_token = unsubscribe_url(smtp.messages[0]).removeprefix("/u/")
    bob_payload = token_make(user_id=1002, category="marketing", channel="email").split(":", 1)[0]
    edited = bob_payload + ":" + ada_token.split(":", 1)[1]
    for token in (edited, ada_token[:-2] + ("AA" if not ada_token.endswith("AA") else "BB"), "nonsense"):
        response = one_click(f"/u/{token}")
        assert response.status_code == 404
        assert response.content.decode().strip() == "This link is not valid."
    assert settings_get(user_id=1001)["categories"] == settings_get(user_id=1002)["categories"] == {}
    assert not ConsentRecord.objects.exists()


def test_an_expired_token_is_refused(kinds, ada, monkeypatch, settings):
    token = token_make(user_id=1001, category="marketing", channel="email")
    later = time.time() + (settings.NOTIFICATION_UNSUBSCRIBE_TOKEN_MAX_AGE_DAYS + 1) * 86400
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = one_click(f"/u/{token}")
    assert response.status_code == 404 and response.content.decode().strip() == "This link has expired."
    assert settings_get(user_id=1001)["categories"] == {}


def test_a_post_without_the_one_click_field_changes_nothing(kinds, ada):
    token = token_make(user_id=1001, category="marketing", channel="email")
    assert Client().post(f"/u/{token}", {"List-Unsubscribe": "Yes"}).status_code == 400
    assert Client().post(f"/u/{token}").status_code == 400
    assert settings_get(user_id=1001)["categories"] == {}


def test_a_page_link_unsubscribes_from_nothing(kinds, ada):
    assert one_click(f"/u/{token_make(user_id=1001)}").status_code == 404
    assert settings_get(user_id=1001)["categories"] == {}


def test_the_headers_reach_an_anymail_backend_as_extra_headers(kinds, ada, trigger, settings, mailoutbox):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    assert trigger("newsletter").status == "sent"
    headers = mailoutbox[0].anymail_test_params["extra_headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(r"<https://notify\.example\.com/u/[^>]+>", headers["List-Unsubscribe"])
