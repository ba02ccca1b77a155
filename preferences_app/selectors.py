"""Reads of preferences on the send path: a user's row through the shared cache, cleared on save and delete."""

import hashlib

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import UserPreference

PREFERENCE_CACHE_SECONDS = 300
_FIELDS = tuple(field.attname for field in UserPreference._meta.concrete_fields)
# The field list is part of the key, so a deploy that changes the table never reads an old entry.
_KEY_PREFIX = f"preference:{hashlib.sha1(','.join(_FIELDS).encode()).hexdigest()[:8]}:"


def _key(user_id: int) -> str:
    return f"{_KEY_PREFIX}{user_id}"


def preference_cached(*, user_id: int) -> UserPreference | None:
    """The user's preferences from the shared cache, or None when they are not cached."""
    values = cache.get(_key(user_id))
    return UserPreference.from_db(DEFAULT_DB_ALIAS, _FIELDS, values) if values is not None else None


def preference_remember(preference: UserPreference) -> None:
    """Keep a row just read from the database in the shared cache."""
    values = [getattr(preference, field) for field in _FIELDS]
    values[_FIELDS.index("phone_number")] = str(preference.phone_number or "")
    cache.set(_key(preference.user_id), values, PREFERENCE_CACHE_SECONDS)


@receiver(post_save, sender=UserPreference)
@receiver(post_delete, sender=UserPreference)
def _preference_changed(sender, instance: UserPreference, **kwargs) -> None:
    key = _key(instance.user_id)
    cache.delete(key)
    # Again after commit: a send that read the old row in between must not leave it cached.
    transaction.on_commit(lambda: cache.delete(key))
