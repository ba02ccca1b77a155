"""Where a webhook may go (webhooks_app/destinations.py): https and public addresses only, unless allowed."""

import pytest

from webhooks_app.destinations import UnsafeDestination, destination_addresses

PUBLIC = "https://93.184.215.14/hooks"


@pytest.fixture(autouse=True)
def _production(settings):
    settings.WEBHOOK_ALLOW_HTTP = False
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


def test_a_public_https_address_is_allowed():
    assert destination_addresses(PUBLIC) == ["93.184.215.14"]


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook",
    "https://10.1.2.3/hook",
    "https://10.255.255.255:8443/hook",
    "https://192.168.0.10/hook",
    "https://172.16.5.4/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://100.64.0.1/hook",
    "https://localhost/hook",  # a name that resolves to loopback
])
def test_private_loopback_and_link_local_destinations_are_refused(url):
    with pytest.raises(UnsafeDestination, match="not a public address"):
        destination_addresses(url)


def test_private_destinations_are_allowed_by_the_setting(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    assert destination_addresses("https://10.0.0.8/hook") == ["10.0.0.8"]


def test_http_is_refused_unless_allowed(settings):
    with pytest.raises(UnsafeDestination, match="Only https"):
        destination_addresses("http://93.184.215.14/hooks")
    settings.WEBHOOK_ALLOW_HTTP = True
    assert destination_addresses("http://93.184.215.14/hooks") == ["93.184.215.14"]


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://93.184.215.14/x", "Enter a valid URL"),
    ("not a url", "Enter a valid URL"),
    ("https://user:pw@93.184.215.14/x", "user name or password"),
    ("https://no-such-host.invalid/x", "does not resolve"),
])
def test_malformed_or_unresolvable_urls_are_refused(url, reason):
    with pytest.raises(UnsafeDestination, match=reason):
        destination_addresses(url)
