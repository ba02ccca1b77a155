"""One error vocabulary for every door: the seed's `{"detail", "status_code"}` (400s add `errors` per
field), DRF's exception handler, Django's 404/500 handlers, and GraphQL's transport errors."""

import functools
import math
from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse
from psycopg.errors import QueryCanceled
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

API_PATH_PREFIX = "/api/"
DATABASE_RETRY_AFTER_SECONDS = 2
STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS = 10
NON_FIELD_ERRORS = "non_field_errors"


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
        # An app may mark a refusal as another 4xx (a repeated idempotency key with another body: 422).
        code = getattr(exc, "http_status", status.HTTP_400_BAD_REQUEST)
    elif isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        code = status.HTTP_400_BAD_REQUEST
    elif isinstance(exc, ObjectDoesNotExist):
        return Response(error_body(404, not_found_detail(exc)), status=404)
    elif isinstance(exc, Http404):
        return Response(error_body(404, "Not found."), status=404)
    elif isinstance(exc, DjangoPermissionDenied):
        return Response(error_body(403, str(exc) or "Permission denied."), status=403)
    elif is_statement_timeout(exc):
        detail = (f"The request ran past its time limit of {settings.DATABASE_STATEMENT_TIMEOUT_MS} ms and was "
                  "stopped; try again later, or ask for less (a narrower filter, a smaller page).")
        return Response(error_body(503, detail), status=503,
                        headers={"Retry-After": str(STATEMENT_TIMEOUT_RETRY_AFTER_SECONDS)})
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


def is_statement_timeout(error: BaseException | None) -> bool:
    """Whether a database error is PostgreSQL cancelling a statement that ran past statement_timeout."""
    return isinstance(error, OperationalError) and isinstance(error.__cause__, QueryCanceled)


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


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    status_code = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False,
                                   help_text="On 400: the messages per field (unknown fields included).")


# The 400 every endpoint that takes input may answer, for the schema.
INVALID_INPUT = {400: OpenApiResponse(ErrorSerializer, description="Invalid input, with the messages per field.")}
