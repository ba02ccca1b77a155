"""The hosted preference page at /u/TOKEN: what it shows, how it saves (CSRF-protected), what it refuses."""

import re

import pytest
from django.test import Client

from consent_app.models import ConsentRecord
from consent_app.tokens import token_make
from preferences_app.categories import settings_get, settings_update
from preferences_app.models import UserPreference
from preferences_app.services import preference_update
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def categories(db):
    marketing = factories.CategoryFactory(key="marketing", name="Marketing", description="Offers and newsletters.")
    security = factories.CategoryFactory(key="security", name="Security")
    factories.NotificationKindFactory(key="newsletter", category=marketing, channels=["email"])
    factories.NotificationKindFactory(key="new_sign_in", category=security, critical=True, channels=["email"])
    return {"marketing": marketing, "security": security}


@pytest.fixture
def ada(categories):
    return preference_update(user_id=1001, email="ada@example.com")


@pytest.fixture
def path(ada):
    return f"/u/{token_make(user_id=1001, category='marketing', channel='email')}"


def ticked(page: str) -> dict[str, str]:
    """What a browser submits for the page's checkboxes as shown: the ticked ones that are not disabled."""
    tags = re.findall(r'<input type="checkbox"[^>]*>', page)
    return {"form": "preferences", **{re.search(r'name="([^"]+)"', tag).group(1): "on" for tag in tags
                                      if " checked" in tag and " disabled" not in tag}}


def checkbox(page: str, name: str) -> str:
    (tag,) = re.findall(rf'<input type="checkbox"[^>]*name="{re.escape(name)}"[^>]*>', page)
    return tag


def test_the_page_shows_categories_by_channel_with_labels_and_critical_ones_disabled(client, path, settings):
    settings.NOTIFICATION_BRAND_NAME, settings.NOTIFICATION_BRAND_COLOR = "Acme", "#aa3300"
    settings.NOTIFICATION_BRAND_LOGO_URL = "https://cdn.acme.example/logo.svg"
    response = client.get(path)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "<span>Acme</span>" in page and "--brand: #aa3300" in page
    assert '<img src="https://cdn.acme.example/logo.svg" alt="">' in page
    assert "Offers and newsletters." in page
    assert "checked" in checkbox(page, "marketing-email") and "disabled" not in checkbox(page, "marketing-email")
    assert '<label class="visually-hidden" for="marketing-sms">Marketing by SMS</label>' in page
    assert "disabled" in checkbox(page, "security-email") and "Always sent" in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "<script" not in page and "http://" not in page  # no JavaScript, nothing fetched but the logo


def test_saving_turns_off_what_was_unticked_and_says_what_changed(path):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {**ticked(page), "csrfmiddlewaretoken": csrf, "quiet_hours_start": "22:00", "quiet_hours_end": "07:00",
            "timezone": "Europe/Berlin"}
    del form["marketing-email"]  # unticked
    response = browser.post(path, form)
    assert response.status_code == 200
    saved = response.content.decode()
    assert "<li>Marketing by email: off</li>" in saved
    assert "<li>Quiet hours: 22:00 to 07:00</li>" in saved and "<li>Timezone: Europe/Berlin</li>" in saved
    assert "checked" not in checkbox(saved, "marketing-email")
    assert settings_get(user_id=1001)["categories"] == {"marketing": {"email": False}}  # only what was changed
    ada = UserPreference.objects.get(user_id=1001)
    assert (str(ada.quiet_hours_start), ada.timezone) == ("22:00:00", "Europe/Berlin")
    assert {(r.source, r.field, r.new_value) for r in ConsentRecord.objects.all()} == {
        ("preference_page", "categories.marketing.email", "off"), ("preference_page", "quiet_hours_start", "22:00"),
        ("preference_page", "quiet_hours_end", "07:00"), ("preference_page", "timezone", "Europe/Berlin")}

    again = browser.post(path, {**form, "csrfmiddlewaretoken": csrf})
    assert "Nothing changed." in again.content.decode()


def test_a_channel_switched_off_takes_untouched_categories_with_it(path):
    settings_update(user_id=1001, categories={"marketing": {"sms": True}})
    form = ticked(Client().get(path).content.decode())
    del form["channel-sms"]
    response = Client().post(path, {**form, "timezone": "UTC"})
    assert "<li>SMS: off</li>" in response.content.decode()
    assert UserPreference.objects.get(user_id=1001).sms_enabled is False
    assert settings_get(user_id=1001)["categories"] == {"marketing": {"sms": True}}  # the user's own choice stays


def test_a_save_without_the_csrf_token_is_refused(path):
    response = Client(enforce_csrf_checks=True).post(path, {"form": "preferences", "timezone": "Europe/Berlin"})
    assert response.status_code == 403
    assert UserPreference.objects.get(user_id=1001).timezone == "UTC"


@pytest.mark.parametrize("form, message", [
    ({"form": "preferences", "quiet_hours_start": "22:00", "timezone": "UTC"},
     "Set both quiet_hours_start and quiet_hours_end"),
    ({"form": "preferences", "timezone": "Mars/Olympus"}, "Choose a timezone from the list."),
])
def test_bad_input_is_a_400_page_naming_the_problem_and_saves_nothing(path, form, message):
    response = Client().post(path, form)
    assert response.status_code == 400
    assert message in response.content.decode() and "Nothing was saved." in response.content.decode()
    assert UserPreference.objects.get(user_id=1001).email_enabled is True
    assert not ConsentRecord.objects.exists()


def test_a_forged_token_is_a_404_page_and_its_form_saves_nothing(client, path):
    forged = path[:-3] + ("xyz" if not path.endswith("xyz") else "abc")
    response = client.get(forged)
    assert response.status_code == 404
    assert "This link is not valid." in response.content.decode() and "<form" not in response.content.decode()
    assert client.post(forged, {"form": "preferences", "timezone": "Europe/Berlin"}).status_code == 404
    assert UserPreference.objects.get(user_id=1001).timezone == "UTC"


def select(page: str, name: str) -> str:
    """The option a select shows as chosen."""
    (tag,) = re.findall(rf'<select id="[^"]+" name="{re.escape(name)}">(.*?)</select>', page, re.S)
    return re.search(r'<option value="([^"]*)" selected>', tag).group(1)


@pytest.fixture
def offers(categories):
    return factories.NotificationKindFactory(key="offers", name="Special offers", category=categories["marketing"],
                                             channels=["email", "sms"])


def test_kind_choices_made_elsewhere_are_shown_in_their_topic_opened(path, offers):
    settings_update(user_id=1001, kinds={"offers": {"sms": False}})
    page = Client().get(path).content.decode()
    assert "<legend>One kind of message at a time</legend>" in page
    assert re.search(r"<details open>\s*<summary>Marketing: 2 kinds of message \(1 set by you\)</summary>", page)
    assert select(page, "kind:offers:sms") == "off" and select(page, "kind:offers:email") == ""
    assert select(page, "kind:newsletter:email") == ""
    assert '<label class="visually-hidden" for="kind:offers:sms">Special offers by SMS</label>' in page
    assert 'name="kind:newsletter:sms"' not in page and "Not sent by SMS" in page  # no SMS template
    assert 'name="kind:new_sign_in:email"' not in page  # all critical: nothing to choose


def test_a_topic_without_choices_of_its_kinds_is_shown_closed(path, offers):
    page = Client().get(path).content.decode()
    assert re.search(r"<details>\s*<summary>Marketing: 2 kinds of message</summary>", page)


def test_choosing_a_kind_on_the_page_saves_it_and_same_as_topic_forgets_it(path, offers):
    settings_update(user_id=1001, kinds={"newsletter": {"email": False}})
    form = {**ticked(Client().get(path).content.decode()), "timezone": "UTC",
            "kind:offers:sms": "off", "kind:offers:email": "", "kind:newsletter:email": ""}
    response = Client().post(path, form)
    assert response.status_code == 200
    saved = response.content.decode()
    assert "<li>Special offers by sms: off</li>" in saved and "<li>Newsletter by email: same as its topic</li>" in saved
    assert "Special offers by email" not in saved  # shown as same as topic, left so
    assert select(saved, "kind:offers:sms") == "off" and select(saved, "kind:newsletter:email") == ""
    assert settings_get(user_id=1001)["kinds"] == {"offers": {"sms": False}}
    assert settings_get(user_id=1001)["categories"] == {}  # the topics shown were sent back untouched
    assert list(ConsentRecord.objects.filter(source="preference_page").values_list("field", "old_value", "new_value")
                ) == [("kinds.newsletter.email", "off", None), ("kinds.offers.sms", None, "off")]


def test_a_kind_choice_that_is_no_choice_is_a_400_naming_it(path, offers):
    form = {**ticked(Client().get(path).content.decode()), "timezone": "UTC", "kind:offers:sms": "maybe"}
    response = Client().post(path, form)
    assert response.status_code == 400
    assert "Special offers: choose on, off or the same as its topic." in response.content.decode()
    assert settings_get(user_id=1001)["kinds"] == {} and not ConsentRecord.objects.exists()
