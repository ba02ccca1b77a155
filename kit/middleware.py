"""Request middleware: the correlation id, one log line and the metrics for every request; seed paths."""

import functools
import logging
import time
from collections.abc import Callable

from django.conf import settings
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
