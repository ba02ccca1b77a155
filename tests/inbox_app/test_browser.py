"""The web component in a real browser: headless Chromium (Selenium) opens the demo page, a kind with an
in-app template is triggered through the REST API, the badge goes 0 -> 1 live over SSE, and marking the
message read takes it back to 0. Screenshots go to INBOX_SCREENSHOT_DIR when it is set."""

import os
import shutil

import httpx
import pytest
from django.conf import settings as django_settings

from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not django_settings.REDIS_URL, reason="live updates need REDIS_URL")]

webdriver = pytest.importorskip("selenium.webdriver")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not CHROMEDRIVER:
        pytest.skip("needs chromedriver (Debian: chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=900,600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    where = os.environ.get("INBOX_SCREENSHOT_DIR")
    if where:
        os.makedirs(where, exist_ok=True)
        driver.save_screenshot(os.path.join(where, f"{name}.png"))


def test_the_badge_follows_a_trigger_live_and_goes_back_to_zero_when_read(asgi_url, browser, in_app_kind,
                                                                         settings):
    from selenium.webdriver.support.ui import WebDriverWait

    settings.DEBUG = True  # the demo page is served only with DEBUG
    key = factories.api_key(scopes=["send"])[1]
    browser.get(f"{asgi_url}/inbox/demo/?user_id=1001")
    inbox = browser.find_element("css selector", "notification-inbox")
    unread = lambda driver: inbox.get_attribute("data-unread")  # noqa: E731
    wait = WebDriverWait(browser, 20)
    wait.until(lambda driver: unread(driver) == "0")
    # The stream is open once the page has its first event; only then is a trigger sure to be heard live.
    wait.until(lambda driver: driver.execute_script("return arguments[0].live === true", inbox))
    shot(browser, "inbox_0_empty")

    answer = httpx.post(f"{asgi_url}/api/v1/triggers/", headers={"Authorization": f"Api-Key {key}"},
                        json={"kind": "order_shipped", "user_ids": [1001],
                              "context": {"first_name": "Ada", "code": "1042", "action_url": "/orders/1042"}},
                        timeout=20)
    assert answer.status_code == 202, answer.text
    wait.until(lambda driver: unread(driver) == "1")
    badge = browser.execute_script("return arguments[0].shadowRoot.querySelector('.badge')", inbox)
    assert badge.text == "1" and badge.is_displayed()
    bell = browser.execute_script("return arguments[0].shadowRoot.querySelector('.bell')", inbox)
    assert bell.get_attribute("aria-label") == "Notifications, 1 unread"
    shot(browser, "inbox_1_badge")
    bell.click()
    # The list is drawn anew as events arrive, so each look and click is one script against the current list.
    text = wait.until(lambda driver: driver.execute_script(
        "const item = arguments[0].shadowRoot.querySelector('li.unread'); return item && item.innerText", inbox))
    assert "Order 1042 shipped" in text and "Ada" in text
    shot(browser, "inbox_2_open_unread")

    wait.until(lambda driver: driver.execute_script(
        "const button = arguments[0].shadowRoot.querySelector(\"li.unread button[data-action='read']\");"
        "if (button) { button.click(); return true; } return false;", inbox))
    wait.until(lambda driver: unread(driver) == "0")
    assert not badge.is_displayed()
    shot(browser, "inbox_3_read")
