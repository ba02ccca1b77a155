"""The feed API's authentication: the end user's browser or app presents a feed credential, never an API key.

`Authorization: Bearer <credential>`, where the credential is either a token minted by
POST /api/v1/users/{id}/feed-token, or `<user id>.<user hash>` signed by the calling service itself
(tokens.user_hash). The live stream also takes it as `?token=`, since a browser's EventSource cannot
send headers.
"""

import re
from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from .tokens import FeedTokenRefused, feed_token_user, user_hash_user

_USER_HASH = re.compile(r"^(\d{1,10})\.([0-9a-fA-F]{64})$")


@dataclass(frozen=True)
class FeedUser:
    """The end user a feed credential names: `request.user` in the feed API."""

    user_id: int
    is_authenticated: bool = True


def feed_user_for(credential: str) -> FeedUser:
    """The user a credential names. Raises FeedTokenRefused."""
    match = _USER_HASH.match(credential)
    if match:
        return FeedUser(user_id=user_hash_user(match.group(1), match.group(2)))
    return FeedUser(user_id=feed_token_user(credential))


class FeedUserAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[FeedUser, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        credential = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise exceptions.AuthenticationFailed("Send the feed token as `Authorization: Bearer <token>`.")
            credential = value.strip()
        elif getattr(request.parser_context.get("view"), "credentials_in_query", False):
            credential = request.query_params.get("token") or None
        if credential is None:
            return None
        try:
            return feed_user_for(credential), None
        except FeedTokenRefused as err:
            raise exceptions.AuthenticationFailed(str(err)) from None

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class IsFeedUser(BasePermission):
    message = "A feed token is required: `Authorization: Bearer <token>`."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, FeedUser)


class FeedTokenSchemeExtension(OpenApiAuthenticationExtension):
    target_class = FeedUserAuthentication
    name = "FeedToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer",
                "description": "A feed token from `POST /api/v1/users/{user_id}/feed-token`, or `<user id>.<user "
                               "hash>`: the hex HMAC-SHA256 of the user id with INBOX_USER_HASH_SECRET."}
