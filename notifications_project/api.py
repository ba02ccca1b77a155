"""Shared REST pieces: API-key auth and scopes, errors, pagination, body limits, rate limits, schema hooks."""

import copy
import functools
import inspect
import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import redis
from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.views import defaults
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, get_usage
from django_redis.exceptions import ConnectionInterrupted
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance, is_patched_serializer
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from apikeys_app.models import APIKey, Scope
from apikeys_app.services import AuthenticationFailed as KeyRefused
from apikeys_app.services import api_key_cache_key, api_key_from_header
from notifications_project import metrics
from notifications_project.cache import prefetched_values
from notifications_project.pagination import DEFAULT_PAGE_SIZE, EXACT_TOTAL_CAP, MAX_OFFSET, MAX_PAGE_SIZE, KeysetPage, Page

logger = logging.getLogger(__name__)

API_PATH_PREFIX = "/api/"
DATABASE_RETRY_AFTER_SECONDS = 2
NON_FIELD_ERRORS = "non_field_errors"


# Errors -------------------------------------------------------------------------------------

def error_body(status_code: int, detail: str, errors: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail, "status_code": status_code}
    if errors is not None:
        body["errors"] = errors
    return body


def error_response(status_code: int, detail: str, *, headers: Mapping[str, str] | None = None) -> JsonResponse:
    """The seed's error shape for answers given outside DRF (404/500 handlers, rate limiter)."""
    response = JsonResponse(error_body(status_code, detail), status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


GRAPHQL_PATH_PREFIX = "/graphql"


def graphql_error_response(status_code: int, message: str, *, code: str, headers: Mapping[str, str] | None = None,
                           **extensions: Any) -> JsonResponse:
    """An answer to a GraphQL request that never reached execution (unreadable, too large, rate limited), in
    the GraphQL response shape, `errors[].extensions.code`, with the GraphQL-over-HTTP status code."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    response = JsonResponse(body, status=status_code)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.0.sub": [messages]}."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            key = NON_FIELD_ERRORS if key == "__all__" else str(key)
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
        return flat
    if isinstance(detail, list) and any(isinstance(item, (Mapping, list)) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            flat.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or NON_FIELD_ERRORS: [str(message) for message in messages]}


def _django_validation_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return _flatten(exc.message_dict)
    return {NON_FIELD_ERRORS: list(exc.messages)}


@functools.cache
def _not_found(does_not_exist: type[ObjectDoesNotExist]) -> str:
    for model in apps.get_models():
        if model.DoesNotExist is does_not_exist:
            return f"{str(model._meta.verbose_name).capitalize()} not found."
    return "Not found."


def not_found_detail(error: ObjectDoesNotExist) -> str:
    """"Template not found." and the like: what both doors say for a missing object."""
    return _not_found(type(error))


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """Every error a view raises, in the seed's shape; unknown exceptions go on to the 500 handler."""
    response = _error_answer(exc)
    if response is not None:
        set_rollback()  # as DRF's own handler does, for ATOMIC_REQUESTS
    return response


def _error_answer(exc: Exception) -> Response | None:
    headers: dict[str, str] = {}
    errors: dict[str, list[str]] | None = None
    if isinstance(exc, DjangoValidationError):
        errors = _django_validation_errors(exc)
        code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, ObjectDoesNotExist):
        return Response(error_body(404, not_found_detail(exc)), status=404)
    elif isinstance(exc, Http404):
        return Response(error_body(404, "Not found."), status=404)
    elif isinstance(exc, DjangoPermissionDenied):
        return Response(error_body(403, str(exc) or "Permission denied."), status=403)
    elif isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable or dropped the connection: nothing was accepted, and the next
        # request reconnects (conn_health_checks), so the client may simply try again.
        return Response(error_body(503, "The database is unavailable; try again shortly."), status=503,
                        headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    elif isinstance(exc, exceptions.APIException):
        code = exc.status_code
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(math.ceil(exc.wait))
        detail = exc.detail
        if isinstance(detail, (Mapping, list)):
            errors = _flatten(detail)
        else:
            return Response(error_body(code, str(detail)), status=code, headers=headers)
    else:
        return None
    summary = "; ".join(f"{field}: {messages[0]}" for field, messages in errors.items()) or "Invalid input."
    return Response(error_body(code, summary, errors), status=code, headers=headers)


def _is_api_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PATH_PREFIX)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 handler: the seed's JSON shape under /api/, Django's page elsewhere."""
    if _is_api_path(request):
        return error_response(404, "Not found: no such endpoint.")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: the seed's JSON shape under /api/, Django's page elsewhere."""
    if _is_api_path(request):
        return error_response(500, "Internal server error.")
    return defaults.server_error(request)


# Request bodies -----------------------------------------------------------------------------

class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


JSON_TOO_DEEP = "JSON parse error - the body is nested too deeply."


class BoundedJSONParser(JSONParser):
    """JSON bodies up to the view's cap (`max_body_setting`, API_MAX_BODY_BYTES by default); larger ones are
    refused before they are read."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None):
        request = (parser_context or {}).get("request")
        limit = getattr(settings, getattr((parser_context or {}).get("view"), "max_body_setting", "API_MAX_BODY_BYTES"))
        if request is not None and body_too_large(request, limit):
            raise RequestTooLarge(f"Request body too large: at most {limit} bytes.")
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as err:
            raise exceptions.ParseError(JSON_TOO_DEEP) from err


def body_too_large(request: HttpRequest, limit: int | None = None) -> bool:
    """Whether the request declares a body over `limit` bytes, API_MAX_BODY_BYTES by default (such a body
    is never read)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > (settings.API_MAX_BODY_BYTES if limit is None else limit)
    except ValueError:
        return False


_COMPOUND_FIELDS = (serializers.ListField, serializers.DictField, serializers.BaseSerializer)


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    """copy.copy(field) without the copy protocol's detour through __reduce_ex__."""
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


class StrictInputSerializer(serializers.Serializer):
    """A request body (or query): a JSON object whose every key is a declared field.

    A plain field keeps no state of its own beyond what binding sets on it, so each instance takes a
    shallow copy of it: DRF's deep copy rebuilds every field from its arguments, which cost a send
    request more than validating its body. Fields that hold other fields are deep-copied as usual.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.deepcopy(field) if isinstance(field, _COMPOUND_FIELDS) else _shallow_copy(field)
                for name, field in self._declared_fields.items()}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise exceptions.ValidationError({field: ["Unknown field."] for field in unknown})
            # DRF's CharField turns a number into its text (`"subject": 0` saved as "0"); the schema says string.
            not_text = [name for name, field in self._declared_fields.items()
                        if isinstance(field, serializers.CharField) and data.get(name) is not None
                        and not isinstance(data[name], str)]
            if not_text:
                raise exceptions.ValidationError({name: ["Not a valid string."] for name in not_text})
        return super().to_internal_value(data)


def _reject_nul(value: Any, path: str = "") -> None:
    # PostgreSQL's jsonb cannot store U+0000; refuse it here rather than fail at the database.
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(f"Null characters are not allowed{f' (at {path})' if path else ''}.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _reject_nul(key, path)
            _reject_nul(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_nul(item, f"{path}.{index}" if path else str(index))


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false only: DRF's own also takes 0, 1, "yes", "true", which the schema does not allow."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JSONObjectField(serializers.JSONField):
    """A JSON object (free-form keys), stored as jsonb."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        _reject_nul(data)
        return super().to_internal_value(data)


class JSONValueField(serializers.JSONField):
    """Any JSON value that PostgreSQL's jsonb can store."""

    def to_internal_value(self, data: Any) -> Any:
        _reject_nul(data)
        return super().to_internal_value(data)


# Pagination ---------------------------------------------------------------------------------

class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=2**31 - 1, default=1, help_text="Page number, from 1.")
    size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE,
                                    help_text=f"Items per page, at most {MAX_PAGE_SIZE}.")


class KeysetQuerySerializer(PageQuerySerializer):
    """Page parameters of a list that also reads by cursor (one that grows without bound)."""

    page = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, default=1,
        help_text=f"Page number, from 1; pages starting past row {MAX_OFFSET} are refused (400): use `cursor`.")
    cursor = serializers.CharField(required=False, max_length=500, help_text=(
        "The `next_cursor` of the previous page: continues after its last item at the cost of one page, "
        "however deep. Overrides `page`."))


def page_response(page: Page, output: type[serializers.Serializer] | Callable[[Any], dict[str, Any]]) -> Response:
    """A page in the list envelope; `output` is the items' serializer, or a function giving an item's data."""
    items = output(page.items, many=True).data if isinstance(output, type) else [output(item) for item in page.items]
    body = {"items": items, "total": page.total, "page": page.page, "size": page.size, "pages": page.pages}
    if isinstance(page, KeysetPage):
        body.update(total_is_estimate=page.total_is_estimate, next_cursor=page.next_cursor)
    return Response(body)


@functools.cache
def paginated(output: type[serializers.Serializer], keyset: bool = False) -> type[serializers.Serializer]:
    """The schema of a page of `output` items: the envelope every list answers with (`keyset`: with
    the estimate flag and the next cursor)."""
    name = output.__name__.removesuffix("Serializer")
    fields = {
        "items": output(many=True),
        "total": serializers.IntegerField(help_text="Items across all pages."),
        "page": serializers.IntegerField(),
        "size": serializers.IntegerField(),
        "pages": serializers.IntegerField(help_text="Number of pages; 0 when there are no items."),
    }
    if keyset:
        fields["total"] = serializers.IntegerField(
            help_text=f"Items across all pages: exact up to {EXACT_TOTAL_CAP}, estimated beyond.")
        fields["total_is_estimate"] = serializers.BooleanField(
            help_text=f"True when `total` (and `pages`) is the database's estimate: past {EXACT_TOTAL_CAP} items.")
        fields["next_cursor"] = serializers.CharField(
            allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page.")
    return type(f"Paginated{name}{'Keyset' if keyset else ''}Serializer", (serializers.Serializer,), fields)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status_code = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="On 400: the messages per field (unknown fields included).")


# The 400 every endpoint that takes input may answer, for the schema.
INVALID_INPUT = {400: OpenApiResponse(ErrorSerializer, description="Invalid input, with the messages per field.")}


# Authentication and scopes ------------------------------------------------------------------

class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Api-Key <key>`; the key is `request.auth`."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[None, APIKey]:
        try:
            key = api_key_from_header(request.META.get("HTTP_AUTHORIZATION"))
        except KeyRefused as err:
            raise exceptions.AuthenticationFailed(str(err)) from None
        return None, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasScope(BasePermission):
    """Reads need the view's `read_scope` (`read` unless it says more); writes need its `write_scope`
    (`manage` unless it says `send`)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        scope = (getattr(view, "read_scope", Scope.READ) if request.method in SAFE_METHODS
                 else getattr(view, "write_scope", Scope.MANAGE))
        self.message = f"This API key lacks the '{scope}' scope."
        return isinstance(request.auth, APIKey) and request.auth.has_scope(scope)


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
    """Base of every v1 endpoint: API key, scopes, JSON in and out, one error shape."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasScope]
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONNegotiation
    write_scope: ClassVar[str] = Scope.MANAGE
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


def _view_read_ahead(request: HttpRequest) -> list[str]:
    """What the view that will answer `request` reads ahead; nothing for a request it would refuse."""
    try:
        view_class = _api_view_class(getattr(request, "urlconf", None) or settings.ROOT_URLCONF, request.path_info)
        if view_class is None:
            return []
        if view_class.read_ahead.__func__ is ApiView.read_ahead.__func__:  # reads nothing ahead: body left unread
            return []
        limit = getattr(settings, view_class.max_body_setting)
        data = json.loads(request.body) if request.body and not body_too_large(request, limit) else None
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


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`; keys are made in the admin or with `manage.py create_api_key`."}


# Rate limits --------------------------------------------------------------------------------

@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in proxies)


def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the nearest untrusted
    X-Forwarded-For hop (read from the right, since a client can put anything on the left).

    IPv6 addresses are counted per /64, the block one subscriber usually holds.
    """
    trusted = _trusted_networks(tuple(settings.RATELIMIT_TRUSTED_PROXIES))
    address = _parse_ip(request.META.get("REMOTE_ADDR", ""))
    if address is not None and any(address in network for network in trusted):
        for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            hop_address = _parse_ip(hop)
            if hop_address is None:
                break
            address = hop_address
            if not any(address in network for network in trusted):
                break
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def login_client_ip(request: HttpRequest) -> str | None:
    """`client_ip` for django-axes (AXES_CLIENT_IP_CALLABLE), which stores it in an IP field: None if unknown."""
    address = client_ip(request)
    return None if address == "unknown" else address


def rate_limit_group(request: HttpRequest) -> str | None:
    """The group of RATELIMIT_RATES a request counts against (first matching RATELIMIT_PATH_GROUPS rule)."""
    for prefix, methods, group in settings.RATELIMIT_PATH_GROUPS:
        if request.path_info.startswith(prefix) and (not methods or request.method in methods):
            return group
    return None


@dataclass(frozen=True)
class WindowUsage:
    period: int  # seconds
    limit: int
    used: int  # sliding-window estimate of the accepted requests, this one included if accepted
    reset: int  # epoch seconds when the current fixed window ends
    exceeded: bool  # this request did not fit in this window
    retry_after: int  # seconds until one more request fits (meaningful when exceeded)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class RateLimitResult:
    group: str
    windows: tuple[WindowUsage, ...]
    # Cache entries read in the same round trip (rate_limit_hit's `read_ahead`): key -> value, None if absent.
    read: Mapping[str, Any] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        return any(window.exceeded for window in self.windows)

    @property
    def retry_after(self) -> int:
        return max((window.retry_after for window in self.windows if window.exceeded), default=0)

    def headers(self) -> dict[str, str]:
        # The headline X-RateLimit-* describe the window closest to refusing (a tie goes to the one
        # that stays spent longer); the per-minute and per-hour pairs are always both given.
        binding = min(self.windows, key=lambda window: (not window.exceeded, window.remaining, -window.reset))
        headers = {
            "X-RateLimit-Limit": str(binding.limit),
            "X-RateLimit-Remaining": str(binding.remaining),
            "X-RateLimit-Reset": str(binding.reset),
            "X-RateLimit-Window": str(binding.period),
        }
        for window in self.windows:
            name = WINDOW_NAMES[window.period]
            headers[f"X-RateLimit-Limit-{name}"] = str(window.limit)
            headers[f"X-RateLimit-Remaining-{name}"] = str(window.remaining)
        return headers


WINDOWS = {"minute": 60, "hour": 3600}
WINDOW_NAMES = {60: "Minute", 3600: "Hour"}


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _seconds_until_allowed(*, limit: int, count: int, previous: int, time_left: int, period: int) -> int:
    """When one more request fits the sliding estimate, given `count` accepted in this window."""
    if limit <= 0:
        return time_left + period
    if count + 1 <= limit and previous:
        # Still in this window: wait for enough of the previous window's weight to expire.
        return math.ceil(time_left - (limit - count - 1) * period / previous)
    # After this window ends, its count becomes the previous one and expires gradually.
    return time_left + math.ceil(period - (limit - 1) * period / max(count, 1))


@dataclass
class _Counted:
    limit: int
    period: int
    count: int  # this fixed window's count, this request included
    window_end: int
    current_key: str
    previous_key: str


def rate_limit_hit(request: HttpRequest, group: str, *, read_ahead: Sequence[str] = ()) -> RateLimitResult | None:
    """Count this request against `group`'s per-minute and per-hour limits for the client's IP.

    django-ratelimit counts fixed windows in the shared cache; the estimate adds the previous
    window's count weighted by how much of it still lies within the sliding window, so a client
    cannot spend two windows' worth around a boundary. A refused request is not counted.
    Returns None when rate limiting is off or the group has no limits. On Redis, the cache entries
    named by `read_ahead` are read in the same round trip and come back in the result's `read`
    (elsewhere `read` stays empty and readers go to the cache themselves).
    """
    rates = settings.RATELIMIT_RATES.get(group)
    if not rates or not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    client = client_ip(request)
    redis_client = _redis_client(cache)
    if redis_client is not None:
        return _rate_limit_hit_redis(cache, redis_client, group, rates, client, read_ahead)
    counted: list[_Counted] = []
    for name, period in WINDOWS.items():
        rate = (int(rates[name]), period)
        usage = get_usage(request, group=f"api:{group}", key=_ip_key, rate=rate, method=ALL, increment=True)
        if usage is None:
            return None
        window_end = int(time.time()) + usage["time_left"]
        entry = _Counted(limit=rate[0], period=period, count=int(usage["count"]), window_end=window_end,
                         current_key=_make_cache_key(f"api:{group}", window_end, rate, client, ALL),
                         previous_key=_make_cache_key(f"api:{group}", window_end - period, rate, client, ALL))
        if entry.count == 1:
            # django-ratelimit lets a window's count expire just after the window; the estimate
            # still reads it as the previous window's count throughout the next one.
            cache.touch(entry.current_key, 2 * period + EXPIRATION_FUDGE)
        counted.append(entry)

    previous_counts = cache.get_many([entry.previous_key for entry in counted])
    now = int(time.time())
    weighted = {}
    for entry in counted:
        time_left = max(0, entry.window_end - now)
        previous = int(previous_counts.get(entry.previous_key) or 0)
        weighted[entry.period] = (time_left, previous, math.floor(previous * time_left / entry.period))
    exceeded = {entry.period: entry.count + weighted[entry.period][2] > entry.limit for entry in counted}
    limited = any(exceeded.values())
    windows = []
    for entry in counted:
        if limited:
            cache.decr(entry.current_key)
            entry.count -= 1
        time_left, previous, carried = weighted[entry.period]
        retry_after = _seconds_until_allowed(limit=entry.limit, count=entry.count, previous=previous,
                                             time_left=time_left, period=entry.period)
        windows.append(WindowUsage(period=entry.period, limit=entry.limit, used=entry.count + carried,
                                   reset=entry.window_end, exceeded=exceeded[entry.period],
                                   retry_after=max(1, retry_after)))
    return RateLimitResult(group=group, windows=tuple(windows))


# The whole sliding-window check in one Redis round trip, on django-ratelimit's keys and windows:
# count this request in each current fixed window (a new window's key lives through the next one,
# where it weighs in as the previous count), read each previous window's count, and if any window
# is over its limit take this request back out of every window. Then read the cache entries the
# request will need, so that they come back in the same reply.
# KEYS: current, previous per window, then the entries to read; ARGV: the number of windows, then
# limit, period, seconds left in the current window, per window. Returns count, previous per window,
# then 1 if limited, then the entries' values (nil for a missing one).
_SLIDING_WINDOW_LUA = """
local n = tonumber(ARGV[1])
local counts, previous, limited = {}, {}, 0
for i = 1, n do
  local limit, period, left = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  local count = redis.call('INCR', KEYS[2*i-1])
  if count == 1 then redis.call('EXPIRE', KEYS[2*i-1], 2 * period + %d) end
  local prev = tonumber(redis.call('GET', KEYS[2*i]) or '0') or 0
  counts[i], previous[i] = count, prev
  if count + math.floor(prev * left / period) > limit then limited = 1 end
end
local out = {}
for i = 1, n do
  if limited == 1 then counts[i] = redis.call('DECR', KEYS[2*i-1]) end
  out[2*i-1], out[2*i] = counts[i], previous[i]
end
out[2*n+1] = limited
for i = 2*n+1, #KEYS do
  out[i+1] = redis.call('GET', KEYS[i])
end
return out
""" % EXPIRATION_FUDGE

_scripts: dict[int, Any] = {}


def _redis_client(cache: Any) -> Any:
    """The raw Redis client behind a django-redis cache (None for any other cache backend)."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or not hasattr(cache, "make_key"):
        return None
    return get_client(write=True)


def _rate_limit_hit_redis(cache: Any, redis_client: Any, group: str, rates: dict, client: str,
                          read_ahead: Sequence[str]) -> RateLimitResult:
    """`rate_limit_hit` on Redis: the same keys, windows and estimate, and the reads, in one script call."""
    script = _scripts.get(id(redis_client))
    if script is None:
        script = _scripts[id(redis_client)] = redis_client.register_script(_SLIDING_WINDOW_LUA)
    now = int(time.time())
    entries, keys, args = [], [], [len(WINDOWS)]
    for name, period in WINDOWS.items():
        rate = (int(rates[name]), period)
        window_end = _get_window(client, period)
        current = _make_cache_key(f"api:{group}", window_end, rate, client, ALL)
        previous = _make_cache_key(f"api:{group}", window_end - period, rate, client, ALL)
        keys += [cache.make_key(current), cache.make_key(previous)]
        args += [rate[0], period, max(0, window_end - now)]
        entries.append((rate[0], period, window_end))
    keys += [cache.make_key(key) for key in read_ahead]
    reply = script(keys=keys, args=args)  # EVALSHA; the script is loaded again if Redis has forgotten it
    counts, values = reply[:2 * len(entries) + 1], reply[2 * len(entries) + 1:]
    read: dict[str, Any] = {}
    for key, value in zip(read_ahead, values):
        try:
            read[key] = None if value is None else cache.client.decode(value)
        except Exception:  # an entry that no longer decodes: its reader reads it itself, with its own fallback
            continue
    answer = [int(value) for value in counts]
    limited = bool(answer[-1])
    windows = []
    for index, (limit, period, window_end) in enumerate(entries):
        count, previous = answer[2 * index], answer[2 * index + 1]
        time_left = max(0, window_end - now)
        carried = math.floor(previous * time_left / period)
        exceeded = (count + (1 if limited else 0)) + carried > limit
        retry_after = _seconds_until_allowed(limit=limit, count=count, previous=previous, time_left=time_left,
                                             period=period)
        windows.append(WindowUsage(period=period, limit=limit, used=count + carried, reset=window_end,
                                   exceeded=exceeded, retry_after=max(1, retry_after)))
    return RateLimitResult(group=group, windows=tuple(windows), read=read)


# What a Redis cache raises when it cannot be reached: django-redis wraps its calls; the limiter's
# own script goes to the client directly.
CACHE_UNAVAILABLE = (ConnectionInterrupted, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class RateLimitMiddleware:
    """Rate limits and X-RateLimit-* headers for every path RATELIMIT_PATH_GROUPS names (/api/, /graphql/)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        group = rate_limit_group(request)
        # The API key's cache entry, and whatever else the view will read, ride along with the limiter's
        # round trip; authentication and the view find them there (notifications_project.cache).
        api_key_entry = api_key_cache_key(request.headers.get("Authorization"))
        read_ahead = ([api_key_entry] if api_key_entry else []) + (_view_read_ahead(request) if group else [])
        try:
            result = rate_limit_hit(request, group, read_ahead=read_ahead) if group else None
        except CACHE_UNAVAILABLE as err:
            # Limits guard the service; they are not worth refusing every call while the cache is
            # down (/health/ready says so). Served without limits, and logged.
            logger.warning("rate limits skipped: the cache is unavailable",
                           extra={"group": group, "error": type(err).__name__})
            result = None
        if result is not None and result.limited:
            metrics.rate_limited(group=group)
            binding = max((w for w in result.windows if w.exceeded), key=lambda w: w.retry_after)
            per = "minute" if binding.period == 60 else "hour"
            detail = f"Rate limit exceeded: {binding.limit} requests per {per}. Retry in {result.retry_after} s."
            headers = {"Retry-After": str(result.retry_after)}
            response: HttpResponse = (
                graphql_error_response(429, detail, code="RATE_LIMITED", headers=headers,
                                       retryAfter=result.retry_after)
                if request.path_info.startswith(GRAPHQL_PATH_PREFIX) else error_response(429, detail, headers=headers))
        else:
            with prefetched_values(result.read if result else {}):
                response = self.get_response(request)
        if result is not None:
            for name, value in result.headers().items():
                response[name] = value
        return response


# Schema -------------------------------------------------------------------------------------

NO_NUL_PATTERN = "^[^\\u0000]*$"


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema, except that:

    - a PATCH body (a `Patched*` component) states no defaults: the server leaves an omitted field
      as it is, and a client generated from the schema would otherwise send every default and
      overwrite what the PATCH did not name;
    - a body is described by its own serializer's docstring only, never one inherited from a base
      class (whose docstring tells maintainers how it works, not clients what to send).
    """

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        own_doc = type(force_instance(serializer)).__dict__.get("__doc__")
        if own_doc:
            schema["description"] = inspect.cleandoc(own_doc)
        else:
            schema.pop("description", None)
        if is_patched_serializer(serializer, direction):
            for field_schema in schema.get("properties", {}).values():
                field_schema.pop("default", None)
        return schema

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(schema, dict):
            if isinstance(field, JSONObjectField):
                schema.update(type="object", additionalProperties={})
            elif isinstance(field, serializers.CharField) and not any(
                    isinstance(validator, RegexValidator) for validator in field.validators):
                schema["pattern"] = NO_NUL_PATTERN  # DRF refuses U+0000 in every text field
        return schema


COMMON_ERRORS = {  # status -> (component name, description)
    "401": ("Unauthenticated", "Missing, malformed, unknown, revoked or expired API key."),
    "403": ("MissingScope", "The API key lacks the scope this operation needs."),
    "404": ("NotFound", "Not found."),
    "405": ("MethodNotAllowed", "Method not allowed."),
    "413": ("BodyTooLarge", "Request body too large."),
    "415": ("UnsupportedMediaType", "Unsupported media type: send application/json."),
    "429": ("RateLimited", "Rate limit exceeded; see Retry-After."),
    "500": ("ServerError", "Internal server error."),
    "503": ("Unavailable", "The database is unavailable; nothing was done. Retry after Retry-After seconds."),
}


def _header_schema(description: str) -> dict[str, Any]:
    return {"schema": {"type": "integer"}, "description": description}


RATE_LIMIT_HEADER_SCHEMAS = {
    "X-RateLimit-Limit": _header_schema("Requests allowed in the window closest to its limit."),
    "X-RateLimit-Remaining": _header_schema("Requests left in that window."),
    "X-RateLimit-Reset": _header_schema("When that window resets, in epoch seconds."),
    "X-RateLimit-Window": _header_schema("That window's length in seconds (60 or 3600)."),
    "X-RateLimit-Limit-Minute": _header_schema("Requests allowed per minute."),
    "X-RateLimit-Remaining-Minute": _header_schema("Requests left this minute."),
    "X-RateLimit-Limit-Hour": _header_schema("Requests allowed per hour."),
    "X-RateLimit-Remaining-Hour": _header_schema("Requests left this hour."),
}


def schema_postprocessing_hook(result: dict[str, Any], generator: Any, request: Any, public: bool
                               ) -> dict[str, Any]:
    """Add the errors every operation can answer, and the rate-limit headers, to each operation."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault("Error", {
        "type": "object",
        "properties": {
            "detail": {"type": "string"},
            "status_code": {"type": "integer"},
            "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                       "description": "On 400: the messages per field."},
        },
        "required": ["detail", "status_code"],
    })
    components = result["components"]
    components.setdefault("headers", {}).update(
        {**RATE_LIMIT_HEADER_SCHEMAS, "Retry-After": _header_schema("Seconds to wait before trying again.")})
    header_refs = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADER_SCHEMAS}
    for code, (name, description) in COMMON_ERRORS.items():
        headers = {**header_refs, **({"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
                                     if code in ("429", "503") else {})}
        components.setdefault("responses", {})[name] = {
            "description": description, "content": {"application/json": {"schema": error_ref}}, "headers": headers}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                response.setdefault("headers", {}).update(header_refs)
            for code, (name, _) in COMMON_ERRORS.items():
                if code == "404" and "{" not in path:
                    continue  # only a path with an id can name nothing
                responses.setdefault(code, {"$ref": f"#/components/responses/{name}"})
    return result
