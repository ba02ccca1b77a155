"""The root GraphQL schema at /graphql/: operations and their scopes, API-key auth, limits, error codes."""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import strawberry
from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from cross_web import HTTPException
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.templatetags.static import static
from django.views.decorators.csrf import csrf_exempt
from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.django.context import StrawberryDjangoContext
from strawberry.django.views import GraphQLView
from strawberry.extensions import (
    AddValidationRules, DisableIntrospection, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension,
)
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.str_converters import to_camel_case

from apikeys_app.models import APIKey, Scope
from apikeys_app.services import AuthenticationFailed, api_key_from_header
from kinds_app import schema as kinds
from kinds_app import topics_schema as topics
from kit.bodies import JSON_TOO_DEEP, body_too_large
from kit.errors import graphql_error_response, not_found_detail
from kit.graphql import ReplicaPinExtension
from kit.ratelimit import rate_limit_hit
from kit.timeouts import OperationDeadline, OperationTimedOut, is_statement_timeout, timeout_message
from logs_app import schema as logs
from logs_app import trigger_schema as triggers
from preferences_app import schema as preferences
from templates_app import schema as templates
from webhooks_app import schema as webhooks

logger = logging.getLogger(__name__)


# Authentication -------------------------------------------------------------------------------


@dataclass
class GraphQLContext(StrawberryDjangoContext):
    @cached_property
    def api_key(self) -> APIKey:
        """The request's API key, checked once per request. Raises AuthenticationFailed."""
        return api_key_from_header(self.request.headers.get("Authorization"))


class HasScope(BasePermission):
    """Lets a field run only for a live API key holding `scope`; no key at all is UNAUTHENTICATED."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.context.api_key.has_scope(self.scope)

    def on_unauthorized(self) -> None:
        raise PermissionDenied(f"This API key lacks the '{self.scope}' scope.")


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WithinRateLimit(BasePermission):
    """Counts the field against a rate-limit group beyond the one its HTTP request counted in.

    Every GraphQL POST counts as `manage`; sending must also meet the stricter `send` limits,
    as POST /api/v1/notifications/ does.
    """

    def __init__(self, group: str) -> None:
        self.group = group

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        result = rate_limit_hit(info.context.request, self.group)
        if result is not None and result.limited:
            raise RateLimited(f"Rate limit exceeded for {self.group}; retry in {result.retry_after} s.",
                              result.retry_after)
        return True


def _requires(scope: str, *more: BasePermission) -> list[PermissionExtension]:
    # No schema directive: the scope is documented in the description, and directives would
    # add a custom @HasScope to the printed schema that clients cannot use.
    return [PermissionExtension([HasScope(scope), *more], use_directives=False)]


def _query(resolver: Callable[..., Any], scope: str) -> Any:
    return strawberry.field(resolver=resolver, extensions=_requires(scope),
                            description=f"{(resolver.__doc__ or '').strip()} Needs the '{scope}' scope.")


def _mutation(resolver: Callable[..., Any], scope: str, *more: BasePermission) -> Any:
    return strawberry.mutation(resolver=resolver, extensions=_requires(scope, *more),
                               description=f"{(resolver.__doc__ or '').strip()} Needs the '{scope}' scope.")


# Operations -----------------------------------------------------------------------------------


@strawberry.type
class Query:
    notification_templates = _query(templates.notification_templates, Scope.READ)
    notification_template = _query(templates.notification_template, Scope.READ)
    user_notifications = _query(logs.user_notifications, Scope.READ)
    user_preferences = _query(preferences.user_preferences, Scope.READ)
    notification_categories = _query(kinds.notification_categories, Scope.READ)
    notification_kinds = _query(kinds.notification_kinds, Scope.READ)
    notification_kind = _query(kinds.notification_kind, Scope.READ)
    notification_topics = _query(topics.notification_topics, Scope.READ)
    webhook_endpoints = _query(webhooks.webhook_endpoints, Scope.MANAGE)
    webhook_endpoint = _query(webhooks.webhook_endpoint, Scope.MANAGE)


@strawberry.type
class Mutation:
    send_notification = _mutation(logs.send_notification, Scope.SEND, WithinRateLimit(Scope.SEND))
    trigger_notification = _mutation(triggers.trigger_notification, Scope.SEND, WithinRateLimit(Scope.SEND))
    cancel_trigger = _mutation(triggers.cancel_trigger, Scope.SEND)
    create_notification_template = _mutation(templates.create_notification_template, Scope.MANAGE)
    update_notification_template = _mutation(templates.update_notification_template, Scope.MANAGE)
    delete_notification_template = _mutation(templates.delete_notification_template, Scope.MANAGE)
    update_user_preferences = _mutation(preferences.update_user_preferences, Scope.MANAGE)
    update_notification_settings = _mutation(preferences.update_notification_settings, Scope.MANAGE)
    create_notification_category = _mutation(kinds.create_notification_category, Scope.MANAGE)
    update_notification_category = _mutation(kinds.update_notification_category, Scope.MANAGE)
    delete_notification_category = _mutation(kinds.delete_notification_category, Scope.MANAGE)
    create_notification_kind = _mutation(kinds.create_notification_kind, Scope.MANAGE)
    update_notification_kind = _mutation(kinds.update_notification_kind, Scope.MANAGE)
    delete_notification_kind = _mutation(kinds.delete_notification_kind, Scope.MANAGE)
    subscribe_to_topic = _mutation(topics.subscribe_to_topic, Scope.MANAGE)
    unsubscribe_from_topic = _mutation(topics.unsubscribe_from_topic, Scope.MANAGE)
    delete_notification_topic = _mutation(topics.delete_notification_topic, Scope.MANAGE)
    create_webhook_endpoint = _mutation(webhooks.create_webhook_endpoint, Scope.MANAGE)
    update_webhook_endpoint = _mutation(webhooks.update_webhook_endpoint, Scope.MANAGE)
    delete_webhook_endpoint = _mutation(webhooks.delete_webhook_endpoint, Scope.MANAGE)
    rotate_webhook_endpoint_secret = _mutation(webhooks.rotate_webhook_endpoint_secret, Scope.MANAGE)


# Errors ---------------------------------------------------------------------------------------

BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
RATE_LIMITED = "RATE_LIMITED"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
TIMEOUT = "TIMEOUT"


def error_code(error: GraphQLError) -> str:
    """The code a client sees for an error: what kind of failure it was, by the exception behind it."""
    original = error.original_error
    if original is None:
        return GRAPHQL_PARSE_FAILED if isinstance(error, GraphQLSyntaxError) else GRAPHQL_VALIDATION_FAILED
    if isinstance(original, ValidationError):
        return BAD_USER_INPUT
    if isinstance(original, ObjectDoesNotExist):
        return NOT_FOUND
    if isinstance(original, AuthenticationFailed):
        return UNAUTHENTICATED
    if isinstance(original, PermissionDenied):
        return FORBIDDEN
    if isinstance(original, RateLimited):
        return RATE_LIMITED
    if isinstance(original, OperationTimedOut) or is_statement_timeout(original):
        return TIMEOUT
    if isinstance(original, GraphQLError):  # raised by the GraphQL machinery itself, e.g. a bad variable
        return (original.extensions or {}).get("code", GRAPHQL_VALIDATION_FAILED)
    return INTERNAL_SERVER_ERROR


def _field_errors(error: ValidationError) -> dict[str, list[str]]:
    if not hasattr(error, "error_dict"):
        return {}
    return {field if field == "__all__" else to_camel_case(field): messages
            for field, messages in error.message_dict.items()}


def client_error(error: GraphQLError) -> GraphQLError:
    """The error as the client sees it: a clear message and `extensions.code`, never internals."""
    code = error_code(error)
    original = error.original_error
    message, extensions = error.message, {**(error.extensions or {}), "code": code}
    if code == BAD_USER_INPUT and isinstance(original, ValidationError):
        extensions["fieldErrors"] = _field_errors(original)
        parts = [f"{field}: {' '.join(messages)}" for field, messages in extensions["fieldErrors"].items()]
        message = "Invalid input. " + ("; ".join(parts) if parts else " ".join(original.messages))
    elif code == NOT_FOUND and isinstance(original, ObjectDoesNotExist):
        message = not_found_detail(original)
    elif code == RATE_LIMITED and isinstance(original, RateLimited):
        extensions["retryAfter"] = original.retry_after
    elif code == TIMEOUT:
        message = str(original) if isinstance(original, OperationTimedOut) else timeout_message()
    elif code == INTERNAL_SERVER_ERROR:
        message = "Internal server error."
    return GraphQLError(message, nodes=error.nodes, source=error.source, positions=error.positions,
                        path=error.path, extensions=extensions)


def _one_timeout(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The errors with every TIMEOUT after the first left out: each field not reached raised one."""
    first = next((error for error in errors if error_code(error) == TIMEOUT), None)
    return [error for error in errors if error is first or error_code(error) != TIMEOUT]


class ErrorCodes(SchemaExtension):
    """Rewrites every error of an operation into its client form (after they were logged); a timed-out
    operation reports its timeout once, not once per field it did not reach."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [client_error(error) for error in _one_timeout(result.errors)]


class NotificationSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log each error once, structured; only unexpected failures carry their traceback (to the log only)."""
        operation = execution_context.operation_name if execution_context else None
        for error in _one_timeout(errors):
            code = error_code(error)
            extra = {"graphql_operation": operation, "graphql_path": ".".join(map(str, error.path or [])) or None,
                     "error_code": code}
            if code == INTERNAL_SERVER_ERROR:
                logger.error("GraphQL resolver failed: %s", error.message, exc_info=error.original_error, extra=extra)
            elif code == TIMEOUT:
                logger.warning("GraphQL operation stopped: %s", client_error(error).message, extra=extra)
            else:
                logger.info("GraphQL request refused (%s): %s", code, client_error(error).message, extra=extra)


# Limits ---------------------------------------------------------------------------------------
# Factories, not instances: strawberry builds the extensions per operation, so the limits follow
# the settings of the moment (and a test can change them).


def _depth_limit() -> SchemaExtension:
    return QueryDepthLimiter(max_depth=settings.GRAPHQL_MAX_DEPTH)


def _alias_limit() -> SchemaExtension:
    return MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES)


def _token_limit() -> SchemaExtension:
    return MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS)


def _introspection() -> SchemaExtension:
    return AddValidationRules([]) if settings.GRAPHQL_INTROSPECTION else DisableIntrospection()


schema = NotificationSchema(
    query=Query,
    mutation=Mutation,
    extensions=[_depth_limit, _alias_limit, _token_limit, _introspection, OperationDeadline, ReplicaPinExtension,
                ErrorCodes],
    config=StrawberryConfig(scalar_map=logs.SCALARS),
)


# What a request that cannot be run answers, by HTTP status (strawberry's HTTPException carries the status).
TRANSPORT_ERROR_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


# GraphiQL's page loads these from a CDN; we serve the same files (notifications_project/static/graphiql/,
# byte for byte what the page's integrity hashes name) so that it works without internet.
GRAPHIQL_ASSETS = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "graphiql/react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": "graphiql/react-dom.production.min.js",
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "graphiql/js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql/graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql/graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "graphiql/plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": "graphiql/plugin-explorer.umd.js",
}


class NotificationGraphQLView(GraphQLView):
    """GraphiQL on a browser's GET; queries and mutations carry `Authorization: Api-Key <key>`.

    A request that cannot be run at all (malformed JSON, a batched array, no query, an unsupported
    media type or method, a body over API_MAX_BODY_BYTES) is answered in the GraphQL shape too,
    `{"errors": [{"message", "extensions": {"code"}}]}`, with its 4xx status: strawberry would answer
    plain text.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if body_too_large(request):
            return graphql_error_response(
                413, f"Request body too large: at most {settings.API_MAX_BODY_BYTES} bytes.",
                code=TRANSPORT_ERROR_CODES[413])
        try:
            return self.run(request=request)
        except HTTPException as err:
            return graphql_error_response(err.status_code, err.reason,
                                          code=TRANSPORT_ERROR_CODES.get(err.status_code, "BAD_REQUEST"))

    @property
    def graphql_ide_html(self) -> str:
        """Strawberry's GraphiQL page, its scripts and styles served from our static files."""
        html = super().graphql_ide_html
        for remote, local in GRAPHIQL_ASSETS.items():
            html = html.replace(remote, static(local))
        return html

    def get_context(self, request: Any, response: Any) -> GraphQLContext:
        return GraphQLContext(request=request, response=response)

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError as err:
            raise HTTPException(400, JSON_TOO_DEEP) from err


# Callers authenticate with an API key header, never a cookie, so there is no CSRF to guard against.
# GraphiQL (strawberry's page) starts with an inline script: its view, and only it, allows inline scripts in the
# Content-Security-Policy (its other scripts are our static files).
graphql_view = csp_update({"script-src": [UNSAFE_INLINE]})(
    csrf_exempt(NotificationGraphQLView.as_view(schema=schema)))
