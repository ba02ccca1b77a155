"""Making, revoking and checking API keys.

A key is `prefix.secret`; only its SHA-512 hash is stored. Checking one is on every API call's
path, so the row is kept in the shared cache by prefix: the secret is still hashed and compared
in constant time on every call, and saving, revoking or deleting a key (one by one or by a queryset's
`update()` or `delete()`) clears its cache entry (now and again after the commit), so a revoked key is
refused from the next request on.
"""

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from kit.rowcache import RowCache

from .models import APIKey, Scope, keys_updated


# Hashed when the prefix is unknown, so an unknown key takes as long to refuse as a wrong one.
_DUMMY_HASH = "sha512$$" + hashlib.sha512(b"no-such-key").hexdigest()


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
    """Revoke a key; it is refused from the next request on (the cache entry goes with the save)."""
    key.revoked = True
    key.save(update_fields=["revoked"])


class AuthenticationFailed(Exception):
    """The request carried no usable API key; the message says why, without echoing the key."""


HEADER_PREFIX = "Api-Key "


def _hash(raw: str) -> str:
    return "sha512$$" + hashlib.sha512(raw.encode()).hexdigest()


# Revoked keys are cached too (they must be refused, not looked up again), and so is a prefix with no key,
# so a flood of made-up keys does not reach the database each time.
_KEYS = RowCache(APIKey, name="apikey", seconds=lambda: settings.API_KEY_CACHE_SECONDS, remember_misses=True)


def _key_for_prefix(prefix: str) -> APIKey | None:
    """The key row with this prefix (revoked ones included), from the cache or the database."""
    return _KEYS.read_through(prefix, lambda: APIKey.objects.filter(prefix=prefix).first())


def _raw_and_prefix(authorization: str) -> tuple[str, str | None]:
    """The key an `Api-Key <key>` header carries, and its prefix when it has the shape of one."""
    raw = authorization[len(HEADER_PREFIX):].strip()
    prefix, dot, secret = raw.partition(".")
    return raw, prefix if dot and prefix and secret and len(prefix) <= 8 else None


def api_key_prefix_of(authorization: str | None) -> str | None:
    """The prefix of the key an `Authorization: Api-Key <key>` header names (unchecked), or None."""
    if not authorization or not authorization.startswith(HEADER_PREFIX):
        return None
    return _raw_and_prefix(authorization)[1] or None


def api_key_cache_key(authorization: str | None) -> str | None:
    """The cache entry `api_key_from_header` will read for this header (None if it reads none), so
    that a caller making a Redis round trip anyway can read it ahead (see kit.cache)."""
    prefix = api_key_prefix_of(authorization)
    return _KEYS.key(prefix) if prefix else None


def api_key_from_header(authorization: str | None) -> APIKey:
    """The live key named by an `Authorization: Api-Key <key>` header (both APIs' one way in).

    Raises AuthenticationFailed when the header is missing or malformed, or the key is unknown,
    revoked or expired. The secret is compared by hash, in constant time.
    """
    if not authorization:
        raise AuthenticationFailed("Missing API key: send 'Authorization: Api-Key <key>'.")
    if not authorization.startswith(HEADER_PREFIX):
        raise AuthenticationFailed("Malformed Authorization header: expected 'Api-Key <key>'.")
    raw, prefix = _raw_and_prefix(authorization)
    key = _key_for_prefix(prefix) if prefix else None
    stored = key.hashed_key if key else _DUMMY_HASH
    if stored.startswith("sha512$$"):
        matches = hmac.compare_digest(_hash(raw).encode(), stored.encode())
    else:  # a key hashed by an older version of the library: its own (constant-time) check
        matches = key is not None and key.is_valid(raw)
    if key is None or not matches or key.revoked:
        raise AuthenticationFailed("Invalid or revoked API key.")
    if key.has_expired:
        raise AuthenticationFailed("This API key has expired.")
    return key


@receiver(post_save, sender=APIKey)
@receiver(post_delete, sender=APIKey)
def _forget_cached_key(sender: type[APIKey], instance: APIKey, **kwargs: Any) -> None:
    _KEYS.forget([instance.prefix])


@receiver(keys_updated, sender=APIKey)
def _forget_updated_keys(sender: type[APIKey], prefixes: list[str], **kwargs: Any) -> None:
    _KEYS.forget(prefixes)
