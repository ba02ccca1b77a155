"""Making, revoking and checking API keys.

A key is `prefix.secret`; only its SHA-512 hash is stored. Checking one is on every API call's
path, so the row is kept in the shared cache by prefix: the secret is still hashed and compared
in constant time on every call, and saving, revoking or deleting a key (one by one or by a queryset's
`update()` or `delete()`) clears its cache entry (now and again after the commit), so a revoked key is
refused from the next request on.
"""

import hashlib
import hmac
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.dateparse import parse_datetime

from kit.cache import cached

from .models import APIKey, Scope, keys_updated

logger = logging.getLogger(__name__)

CACHE_PREFIX = "apikey:"
# Cached for an unknown prefix, so a flood of made-up keys does not reach the database each time.
UNKNOWN = "unknown"
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


def _cache_key(prefix: str) -> str:
    return f"{CACHE_PREFIX}{prefix}"


def _hash(raw: str) -> str:
    return "sha512$$" + hashlib.sha512(raw.encode()).hexdigest()


def _to_cache(key: APIKey) -> dict[str, Any]:
    return {"id": key.pk, "prefix": key.prefix, "hashed_key": key.hashed_key, "name": key.name,
            "revoked": key.revoked, "scopes": list(key.scopes or []),
            "expiry_date": key.expiry_date.isoformat() if key.expiry_date else None,
            "created": key.created.isoformat() if key.created else None}


def _from_cache(entry: dict[str, Any]) -> APIKey:
    key = APIKey(id=entry["id"], prefix=entry["prefix"], hashed_key=entry["hashed_key"], name=entry["name"],
                 revoked=entry["revoked"], scopes=entry["scopes"],
                 expiry_date=parse_datetime(entry["expiry_date"]) if entry["expiry_date"] else None,
                 created=parse_datetime(entry["created"]) if entry["created"] else None)
    key._state.adding, key._state.db = False, "default"  # a row read back, not a new one
    return key


def _cache_get(prefix: str) -> Any:
    try:
        return cached(_cache_key(prefix))
    except Exception as err:  # the cache is a speed-up: without it, the database answers
        logger.warning("api key cache unavailable", extra={"error": type(err).__name__})
        return None


def _cache_set(prefix: str, value: Any) -> None:
    try:
        cache.set(_cache_key(prefix), value, settings.API_KEY_CACHE_SECONDS)
    except Exception as err:
        logger.warning("api key cache unavailable", extra={"error": type(err).__name__})


def _key_for_prefix(prefix: str) -> APIKey | None:
    """The key row with this prefix (revoked ones included), from the cache or the database."""
    entry = _cache_get(prefix)
    if entry == UNKNOWN:
        return None
    if isinstance(entry, dict):
        return _from_cache(entry)
    key = APIKey.objects.filter(prefix=prefix).first()
    _cache_set(prefix, _to_cache(key) if key else UNKNOWN)
    return key


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
    return _cache_key(prefix) if prefix else None


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


def _forget_cached(prefixes: list[str]) -> None:
    """Drop changed keys' cache entries now, and again once the change is committed: a request
    that read the old row in between may have put it back."""
    keys = [_cache_key(prefix) for prefix in prefixes]

    def forget() -> None:
        try:
            cache.delete_many(keys)
        except Exception as err:
            logger.error("could not clear a changed api key from the cache", extra={"error": type(err).__name__})

    if keys:
        forget()
        transaction.on_commit(forget)


@receiver(post_save, sender=APIKey)
@receiver(post_delete, sender=APIKey)
def _forget_cached_key(sender: type[APIKey], instance: APIKey, **kwargs: Any) -> None:
    _forget_cached([instance.prefix])


@receiver(keys_updated, sender=APIKey)
def _forget_updated_keys(sender: type[APIKey], prefixes: list[str], **kwargs: Any) -> None:
    _forget_cached(prefixes)
