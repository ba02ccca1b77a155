"""Request middleware: the correlation id, one log line and the metrics for every request; seed paths; the
API's shorter way through the stack."""

import functools
import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.urls import is_valid_path

from . import metrics
from .logging import (REQUEST_ID_HEADER, bind_request_id, loggable_path, new_request_id, reset_request_id,
                      valid_request_id)

logger = logging.getLogger("notifications_project.requests")

# Probes and scrapes come every few seconds; a line each would drown the log.
QUIET_PATHS = ("/health/", "/metrics")


def _route(request: HttpRequest) -> str:
    """The URL pattern that answered (bounded, unlike the path), or a fixed label when none did."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or match.view_name or "unmatched")


class RequestContextMiddleware:
    """Takes X-Request-ID (if safe) or makes one, returns it on the response, and puts it on every log
    line of the request and on the Celery tasks it queues; counts and times the request by route."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = valid_request_id(request.headers.get(REQUEST_ID_HEADER)) or new_request_id()
        request.request_id = request_id
        token = bind_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[REQUEST_ID_HEADER] = request_id
            self._record(request, response.status_code, time.perf_counter() - started)
            return response
        finally:
            reset_request_id(token)

    @staticmethod
    def _record(request: HttpRequest, status: int, seconds: float) -> None:
        route = _route(request)
        metrics.HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        metrics.HTTP_LATENCY.labels(request.method, route, str(status)).observe(seconds)
        if not request.path_info.startswith(QUIET_PATHS):
            # The path, not the query string: queries may carry personal data (user ids, addresses).
            logger.info("request finished", extra={"method": request.method, "path": loggable_path(request.path_info),
                                                   "route": route, "status": status,
                                                   "duration_ms": round(seconds * 1000, 1)})


# The APIs' paths end in a slash; the seed's clients write them without (`/api/v1/notifications`, `/graphql`).
SLASHLESS_PREFIXES = ("/api/", "/graphql")


@functools.lru_cache(maxsize=512)
def _needs_slash(urlconf: str, path: str) -> bool:
    return not is_valid_path(path, urlconf) and is_valid_path(f"{path}/", urlconf)


class SlashlessPathMiddleware:
    """Serves an API path written without its trailing slash as the slashed path, in place, for every
    method: Django's APPEND_SLASH would redirect, and a client following it drops a POST's body. Runs
    before the rate limiter, so both spellings count in the same group."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if (path.startswith(SLASHLESS_PREFIXES) and not path.endswith("/")
                and _needs_slash(getattr(request, "urlconf", None) or settings.ROOT_URLCONF, path)):
            request.path_info = f"{path}/"
            request.path = f"{request.path}/"
        return self.get_response(request)


# Paths whose callers authenticate by a header (an API key, a feed token, the metrics token) or not at all:
# no session, CSRF cookie, login, flash message or login lockout applies to them.
API_PATHS = ("/api/", "/graphql", "/health/", "/metrics")

# ApiShortcutTarget hands the handler it would have called to the ApiShortcutMiddleware built next in
# the same thread (Django builds the stack from the innermost middleware out, one handler at a time).
_handoff = threading.local()


class ApiShortcutMiddleware:
    """Sends API_PATHS from its place in MIDDLEWARE straight to ApiShortcutTarget's, past the middleware
    between the two (sessions, CSRF, authentication, messages, axes): those serve the admin and the
    browser pages, and an API call, authenticated by a header, has no use for them (they took about 3% of
    a send's CPU, profiled). Every other path goes through them as listed. Their process_view hooks still
    run (Django calls those for every request; CSRF's passes the API's views, which are exempt), and the
    Host header is still checked as CommonMiddleware would."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        target = getattr(_handoff, "target", None)
        if target is None:
            raise ImproperlyConfigured("ApiShortcutMiddleware needs kit.middleware.ApiShortcutTarget after it "
                                       "in MIDDLEWARE")
        _handoff.target = None
        self.get_response, self.api_response = get_response, target

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PATHS):
            request.get_host()  # DisallowedHost (400) for a Host that ALLOWED_HOSTS does not name
            return self.api_response(request)
        return self.get_response(request)


class ApiShortcutTarget:
    """Where ApiShortcutMiddleware's API paths rejoin the stack; it takes no part in any request itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        _handoff.target = get_response
        raise MiddlewareNotUsed
