"""The shared base of HTTP providers: one pooled httpx client each, and httpx failures mapped to our errors.

httpx is imported where a provider first calls out, not with this module: web processes import the adapters
(to check messages at acceptance) but deliver nothing, and httpx brings httpcore, h2 and whichever async
libraries are installed (about 9 MiB of a web worker's memory, measured)."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from notification_channels.base import (
    DeliveryResult,
    Message,
    PermanentError,
    Provider,
    ProviderTimeout,
    TransientError,
)

if TYPE_CHECKING:
    import httpx

# Statuses that say "not now" rather than "never".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class HTTPProvider(Provider):
    """A provider reached over HTTP through one keep-alive ``httpx.Client``.

    The client is built with the provider (the registry builds providers once per
    process) and reused for every send; ``close`` shuts it and the next send opens
    a fresh one. Subclasses implement ``request_for`` and ``error_for``.
    """

    default_base_url: ClassVar[str] = ""
    http2: ClassVar[bool] = False
    optional_options: ClassVar[Mapping[str, Any]] = {"base_url": None, "timeout": 10.0}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.base_url: str = (self.options["base_url"] or self.default_base_url).rstrip("/")
        self.timeout = float(self.options["timeout"])
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self.build_client()
        return self._client

    def build_client(self) -> httpx.Client:
        import httpx

        kwargs: dict[str, Any] = {}
        if self.http2:
            # Over cleartext (a loopback fake) HTTP/2 needs prior knowledge: no HTTP/1.1 at all.
            kwargs = {"http1": not self.base_url.startswith("http://"), "http2": True}
        return httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            **kwargs,
        )

    def open(self) -> None:
        self.client  # noqa: B018  (builds it: an SSL context and a connection pool)

    def call(self, payload: Any, message: Message) -> httpx.Response:
        import httpx

        request = self.request_for(payload, message)
        try:
            response = self.client.send(request)
        except httpx.TimeoutException as err:
            raise ProviderTimeout(f"timed out after {self.timeout:g}s", provider=self.name) from err
        except httpx.HTTPError as err:
            raise TransientError(f"connection failed: {err}", provider=self.name) from err
        if response.is_success:
            return response
        raise self.error_for(response, message)

    def request_for(self, payload: Any, message: Message) -> httpx.Request:
        """The HTTP request that carries the payload."""
        raise NotImplementedError

    def error_for(self, response: httpx.Response, message: Message) -> Exception:
        """The ``ChannelError`` for a non-2xx answer (default: by status alone)."""
        return self.status_error(response, f"HTTP {response.status_code}")

    def status_error(
        self, response: httpx.Response, text: str, *, code: str | int | None = None
    ) -> TransientError | PermanentError:
        """A transient or permanent error depending on the status code."""
        status = response.status_code
        if status in TRANSIENT_STATUSES or status >= 500:
            return TransientError(
                text,
                provider=self.name,
                status=status,
                code=code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return PermanentError(text, provider=self.name, status=status, code=code)

    def json_of(self, response: httpx.Response) -> dict[str, Any]:
        """The answer's JSON object, or ``{}`` when the body is not one."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return body if isinstance(body, dict) else {}

    def accepted_json(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON of a 2xx answer; an unreadable one is permanent, since retrying might send twice."""
        body = self.json_of(response)
        if not body:
            raise PermanentError(
                f"unreadable answer to an accepted request: {response.text[:200]!r}",
                provider=self.name,
                status=response.status_code,
            )
        return body

    def parse_answer(self, answer: httpx.Response, message: Message) -> DeliveryResult:
        raise NotImplementedError

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
