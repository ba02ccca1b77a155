"""The base of every REST endpoint (JSON in and out, one error shape; API-key authentication and
scopes come from REST_FRAMEWORK's defaults, which the settings point at apikeys_app), and what a
view reads ahead for the rate limiter's round trip."""

import functools
from typing import Any, ClassVar

from django.conf import settings
from django.http import Http404, HttpRequest
from django.urls import resolve
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from .bodies import BoundedJSONParser, body_too_large, json_body

class JSONNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answered at once when there is nothing to negotiate: one renderer, no
    `?format=`, and an Accept header that is absent, `*/*` or JSON (most calls; parsing the header
    cost a send a twentieth of its view's time). Anything else goes through DRF's rules (406 and all)."""

    def select_renderer(self, request: Request, renderers: list[Any], format_suffix: str | None = None
                        ) -> tuple[Any, str]:
        if (len(renderers) == 1 and not format_suffix
                and request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", renderers[0].media_type)
                and self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


class ApiView(APIView):
    """Base of every v1 endpoint: JSON in and out, one error shape; authentication and permissions are
    REST_FRAMEWORK's defaults (an API key and its scopes)."""

    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONNegotiation
    max_body_setting: ClassVar[str] = "API_MAX_BODY_BYTES"  # the setting that caps this view's request bodies

    @staticmethod
    def query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
        # A plain dict, not the QueryDict: DRF reads an empty `?type=` from a QueryDict as "not given"
        # and accepts it, though the schema allows only the enum's values.
        serializer = serializer_class(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @staticmethod
    def body(serializer_class: type[serializers.Serializer], request: Request, *, partial: bool = False
             ) -> dict[str, Any]:
        serializer = serializer_class(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    def read_ahead(cls, method: str, data: Any) -> list[str]:
        """The shared-cache entries a `method` request with this JSON body (`data`, None when there is
        none) is going to read, which the rate limiter fetches in the round trip it makes before any
        view runs (see RateLimitMiddleware). None by default."""
        return []


def view_read_ahead(request: HttpRequest) -> list[str]:
    """What the view that will answer `request` reads ahead; nothing for a request it would refuse."""
    try:
        view_class = _api_view_class(getattr(request, "urlconf", None) or settings.ROOT_URLCONF, request.path_info)
        if view_class is None:
            return []
        if view_class.read_ahead.__func__ is ApiView.read_ahead.__func__:  # reads nothing ahead: body left unread
            return []
        limit = getattr(settings, view_class.max_body_setting)
        data = json_body(request) if request.body and not body_too_large(request, limit) else None  # kept for DRF
        return list(view_class.read_ahead(request.method, data))
    except Exception:  # no such path, or a body the view will refuse with a proper answer of its own
        return []


@functools.lru_cache(maxsize=512)
def _api_view_class(urlconf: str, path: str) -> type[ApiView] | None:
    """The ApiView that answers `path` (None for any other view, or none), remembered: Django resolves
    the path again for the request itself, and a send comes to the same path every time."""
    try:
        view_class = getattr(resolve(path, urlconf).func, "view_class", None)
    except Http404:
        return None
    return view_class if isinstance(view_class, type) and issubclass(view_class, ApiView) else None
