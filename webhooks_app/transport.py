"""The HTTP transport of webhook deliveries: it connects only to an address it has just checked.

A check of the name before the request and httpx's own resolution when it connects would be two DNS
answers, and a name that answers a public address to the first and 127.0.0.1 to the second (DNS
rebinding) would slip through. Here the connection itself resolves the name once, checks every address
(`host_addresses`) and opens the socket to a checked one. Everything else still speaks to the name: the
URL and so the Host header are unchanged, and TLS sends the name as SNI and checks the certificate against
it (httpcore passes the origin's host to `start_tls`, not the address connected to).

The pool keys its connections by origin (scheme, name, port); a kept connection goes to the address that
was checked when it opened, and a new one is checked anew, so reuse opens no gap either.
"""

import ssl
import typing

import httpcore
import httpx

from .destinations import host_addresses

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)  # httpx's


class CheckedAddressBackend(httpcore.SyncBackend):
    """httpcore's blocking network backend, resolving and checking the host itself. Raises UnsafeDestination
    (which httpx lets through as it is) when the host is refused."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None
                    ) -> httpcore.NetworkStream:
        addresses = host_addresses(host, port)
        last_error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # as socket.create_connection would: the next when one cannot be reached
            try:
                return super().connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                last_error = err
        assert last_error is not None  # host_addresses returns at least one address
        raise last_error


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over a pool whose connections are made by CheckedAddressBackend; no proxy (a proxy
    would be what is connected to). `verify` as httpx's (a test trusts its own certificate authority)."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, limits: httpx.Limits | None = None) -> None:
        limits = limits or DEFAULT_LIMITS
        super().__init__(verify=verify, trust_env=False, limits=limits)
        # httpx (pinned in requirements.txt) takes no network backend of its own, so its pool is made again
        # with one, as httpx makes it with no proxy.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections, max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry, network_backend=CheckedAddressBackend())
