"""Making and revoking API keys."""

from django.core.exceptions import ValidationError

from .models import APIKey, Scope


def api_key_create(*, name: str, scopes: list[str] | None = None) -> tuple[APIKey, str]:
    """Make a key; returns the row and the key itself, which is stored only as a hash.

    Raises ValidationError for an empty name or an unknown scope.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A key needs a name (the service that will use it)."})
    scopes = list(Scope.values) if scopes is None else list(dict.fromkeys(scopes))
    unknown = [scope for scope in scopes if scope not in Scope.values]
    if unknown or not scopes:
        raise ValidationError({"scopes": f"Choose one or more of: {', '.join(Scope.values)}."})
    return APIKey.objects.create_key(name=name, scopes=scopes)


def api_key_revoke(*, key: APIKey) -> None:
    """Revoke a key; it is refused from the next request on."""
    key.revoked = True
    key.save(update_fields=["revoked"])


class AuthenticationFailed(Exception):
    """The request carried no usable API key; the message says why, without echoing the key."""


HEADER_PREFIX = "Api-Key "


def api_key_from_header(authorization: str | None) -> APIKey:
    """The live key named by an `Authorization: Api-Key <key>` header.

    Raises AuthenticationFailed when the header is missing or malformed, or the key is unknown,
    revoked or expired.
    """
    if not authorization:
        raise AuthenticationFailed("Missing API key: send 'Authorization: Api-Key <key>'.")
    if not authorization.startswith(HEADER_PREFIX):
        raise AuthenticationFailed("Malformed Authorization header: expected 'Api-Key <key>'.")
    raw = authorization[len(HEADER_PREFIX):].strip()
    try:
        key = APIKey.objects.get_from_key(raw)
    except APIKey.DoesNotExist:
        raise AuthenticationFailed("Invalid or revoked API key.") from None
    if key.has_expired:
        raise AuthenticationFailed("This API key has expired.")
    return key
