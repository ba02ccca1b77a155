"""Rate limits count the real client: a forged X-Forwarded-For does not buy a fresh allowance."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_reads_a_minute(settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "read": {"minute": 2, "hour": 100}}


def reads(api, path: str, remote: str, forwarded: list[str]) -> list[int]:
    return [api.get(path, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=hop).status_code for hop in forwarded]


@pytest.mark.parametrize("path", ["/api/v1/templates/", "/graphql/?query=%7B__typename%7D"])
def test_without_a_trusted_proxy_forwarded_for_is_ignored(api, two_reads_a_minute, settings, path):
    settings.RATELIMIT_TRUSTED_PROXIES = []
    codes = reads(api, path, "203.0.113.9", ["198.51.100.1", "198.51.100.2", "198.51.100.3"])
    assert codes[-1] == 429


def test_behind_a_trusted_proxy_the_client_cannot_prepend_addresses(api, two_reads_a_minute, settings):
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The proxy appends the address it saw; whatever the client wrote stays on the left.
    forged = [f"6.6.6.{n}, 198.51.100.1" for n in range(3)]
    assert reads(api, "/api/v1/templates/", "10.0.0.5", forged) == [200, 200, 429]


def test_behind_a_trusted_proxy_real_clients_are_told_apart(api, two_reads_a_minute, settings):
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert reads(api, "/api/v1/templates/", "10.0.0.5", ["198.51.100.1"] * 3) == [200, 200, 429]
    assert reads(api, "/api/v1/templates/", "10.0.0.5", ["198.51.100.2"]) == [200]


def test_a_proxy_that_is_not_trusted_cannot_speak_for_clients(api, two_reads_a_minute, settings):
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    codes = reads(api, "/api/v1/templates/", "203.0.113.50", [f"198.51.100.{n}" for n in range(3)])
    assert codes == [200, 200, 429]


# IPv4 clients written as IPv6, and addresses with ports --------------------------------------------


@pytest.mark.parametrize(("remote", "other"), [
    ("::ffff:203.0.113.7", "::ffff:198.51.100.9"),
    ("::ffff:cb00:7107", "::ffff:c633:6409"),  # the same two, written in hex
])
def test_two_ipv4_mapped_clients_do_not_share_a_limit(api, two_reads_a_minute, remote, other):
    assert reads(api, "/api/v1/templates/", remote, ["", "", ""]) == [200, 200, 429]
    assert reads(api, "/api/v1/templates/", other, [""]) == [200]


def test_a_mapped_client_and_its_ipv4_form_are_one_client(api, two_reads_a_minute):
    assert reads(api, "/api/v1/templates/", "::ffff:203.0.113.7", ["", ""]) == [200, 200]
    assert reads(api, "/api/v1/templates/", "203.0.113.7", [""]) == [429]


@pytest.mark.parametrize(("hops", "others"), [
    (["198.51.100.1:4711", "198.51.100.1:4712", "198.51.100.1:4713"], ["198.51.100.2:4711"]),
    (["[2001:db8:1::1]:443", "[2001:db8:1::2]:443", "[2001:db8:1::3]"], ["[2001:db8:2::1]:443"]),
    (["[::ffff:198.51.100.1]:80", "::ffff:198.51.100.1", "198.51.100.1:9"], ["[::ffff:198.51.100.2]:80"]),
])
def test_forwarded_addresses_with_ports_are_counted_by_address(api, two_reads_a_minute, settings, hops, others):
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert reads(api, "/api/v1/templates/", "10.0.0.5", hops) == [200, 200, 429]
    assert reads(api, "/api/v1/templates/", "10.0.0.5", others) == [200]


def test_a_trusted_proxy_written_as_mapped_ipv6_is_still_trusted(api, two_reads_a_minute, settings):
    settings.RATELIMIT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert reads(api, "/api/v1/templates/", "::ffff:10.0.0.5", ["198.51.100.1"] * 3) == [200, 200, 429]
    assert reads(api, "/api/v1/templates/", "::ffff:10.0.0.5", ["198.51.100.2"]) == [200]
