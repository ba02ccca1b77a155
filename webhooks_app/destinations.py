"""Where a webhook may be sent (SSRF guard): checked when an endpoint is saved, and when a delivery connects
(webhooks_app/transport.py connects only to an address checked here, so DNS rebinding finds no gap).

Only https, unless WEBHOOK_ALLOW_HTTP (default: DEBUG); and never to an address that is not public
(private, loopback, link-local such as a cloud's metadata service 169.254.169.254, shared, reserved,
multicast), unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES. A name is resolved and every address it resolves
to must pass, so a public name pointing inside the network is refused too.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

DEFAULT_PORTS = {"http": 80, "https": 443}
_url_shape = URLValidator(schemes=["http", "https"])


class UnsafeDestination(Exception):
    """A URL a webhook must not be sent to; the message says why."""


def _allowed_schemes() -> tuple[str, ...]:
    return ("http", "https") if settings.WEBHOOK_ALLOW_HTTP else ("https",)


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def destination_url_check(url: str) -> tuple[str, int]:
    """The host and port of `url` when its form may be sent to (a valid URL, an allowed scheme, no user name
    or password); the host's addresses are checked apart (`host_addresses`). Raises UnsafeDestination."""
    try:
        _url_shape(url)
    except ValidationError:
        raise UnsafeDestination("Enter a valid URL.") from None
    parts = urlsplit(url)
    if parts.scheme not in _allowed_schemes():
        raise UnsafeDestination("Only https URLs are allowed." if parts.scheme == "http"
                                else "Only http and https URLs are allowed.")
    if parts.username or parts.password:
        raise UnsafeDestination("A URL with a user name or password is not allowed.")
    host = parts.hostname or ""
    try:
        return host, parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise UnsafeDestination("Enter a valid URL.") from None


def host_addresses(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to now, each one allowed (the delivery connects to one of these, so
    what was checked is what is reached). Raises UnsafeDestination."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError):
        raise UnsafeDestination(f"The host {host!r} does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if not _is_public(address):
                raise UnsafeDestination(
                    f"{host} is (or resolves to) {address}, which is not a public address "
                    "(private, loopback, link-local or reserved).")
    if not addresses:
        raise UnsafeDestination(f"The host {host!r} does not resolve.")
    return addresses


def destination_addresses(url: str) -> list[str]:
    """The addresses `url` may be reached at, each one allowed. Raises UnsafeDestination."""
    return host_addresses(*destination_url_check(url))
