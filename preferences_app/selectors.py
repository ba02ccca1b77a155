"""Reads of preferences on the send path: a user's row through the shared cache, cleared on save and delete."""

import hashlib

from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from phonenumber_field.phonenumber import PhoneNumber

from kit.cache import cached

from .models import UserPreference

PREFERENCE_CACHE_SECONDS = 300
_FIELDS = tuple(field.attname for field in UserPreference._meta.concrete_fields)
# The field list is part of the key, so a deploy that changes the table never reads an old entry.
_KEY_PREFIX = f"preference:2:{hashlib.sha1(','.join(_FIELDS).encode()).hexdigest()[:8]}:"
_PHONE = _FIELDS.index("phone_number")


def preference_cache_key(user_id: int) -> str:
    return f"{_KEY_PREFIX}{user_id}"


def preference_cached(*, user_id: int) -> UserPreference | None:
    """The user's preferences from the shared cache, or None when they are not cached."""
    values = cached(preference_cache_key(user_id))
    if values is None:
        return None
    # The number is kept parsed: parsing E.164 again costs more than the rest of a cached read.
    phone = values[_PHONE]
    values[_PHONE] = PhoneNumber(raw_input=phone[0], country_code=phone[1], national_number=phone[2],
                                 italian_leading_zero=phone[3], number_of_leading_zeros=phone[4]) if phone else ""
    return UserPreference.from_db(DEFAULT_DB_ALIAS, _FIELDS, values)


def preference_remember(preference: UserPreference) -> None:
    """Keep a row just read from the database in the shared cache."""
    values = [getattr(preference, field) for field in _FIELDS]
    phone = preference.phone_number
    values[_PHONE] = (phone.as_e164, phone.country_code, phone.national_number, phone.italian_leading_zero,
                      phone.number_of_leading_zeros) if isinstance(phone, PhoneNumber) and phone.country_code else None
    cache.set(preference_cache_key(preference.user_id), values, PREFERENCE_CACHE_SECONDS)


@receiver(post_save, sender=UserPreference)
@receiver(post_delete, sender=UserPreference)
def _preference_changed(sender, instance: UserPreference, **kwargs) -> None:
    key = preference_cache_key(instance.user_id)
    cache.delete(key)
    # Again after commit: a send that read the old row in between must not leave it cached.
    transaction.on_commit(lambda: cache.delete(key))
