"""API-key authentication and scopes for the REST API (REST_FRAMEWORK's defaults name these classes),
the schema's security scheme, and the key's cache entry the rate limiter reads ahead."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from .models import APIKey, Scope
from .services import AuthenticationFailed as KeyRefused
from .services import api_key_cache_key, api_key_from_header

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

    def has_permission(self, request: Request, view: Any) -> bool:
        scope = (getattr(view, "read_scope", Scope.READ) if request.method in SAFE_METHODS
                 else getattr(view, "write_scope", Scope.MANAGE))
        self.message = f"This API key lacks the '{scope}' scope."
        return isinstance(request.auth, APIKey) and request.auth.has_scope(scope)


class ApiKeySchemeExtension(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Api-Key <key>`; keys are made in the admin or with `manage.py create_api_key`."}


def api_key_read_ahead(request: Any) -> list[str]:
    """The cache entry of the request's API key, for the rate limiter to read in its round trip (a
    source it is handed by `apikeys_app`'s AppConfig)."""
    entry = api_key_cache_key(request.headers.get("Authorization"))
    return [entry] if entry else []
