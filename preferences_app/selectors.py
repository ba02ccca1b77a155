"""Reads of preferences on the send path: a user's row through the shared cache, cleared on save and delete."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from phonenumber_field.phonenumber import PhoneNumber

from kit.rowcache import MISSING, Codec, RowCache

from .models import UserPreference

PREFERENCE_CACHE_SECONDS = 300


def _phone_encode(phone: Any) -> tuple | None:
    if isinstance(phone, PhoneNumber) and phone.country_code:
        return (phone.as_e164, phone.country_code, phone.national_number, phone.italian_leading_zero,
                phone.number_of_leading_zeros)
    return None


def _phone_decode(parts: tuple | None) -> PhoneNumber | str:
    if not parts:
        return ""
    raw, country_code, national_number, italian_leading_zero, leading_zeros = parts
    return PhoneNumber(raw_input=raw, country_code=country_code, national_number=national_number,
                       italian_leading_zero=italian_leading_zero, number_of_leading_zeros=leading_zeros)


# The number is kept parsed: parsing E.164 again costs more than the rest of a cached read.
_PREFERENCES = RowCache(UserPreference, name="preference", seconds=PREFERENCE_CACHE_SECONDS,
                        codecs={"phone_number": Codec(encode=_phone_encode, decode=_phone_decode)})


def preference_cache_key(user_id: int) -> str:
    return _PREFERENCES.key(user_id)


def preference_cached(*, user_id: int) -> UserPreference | None:
    """The user's preferences from the shared cache, or None when they are not cached."""
    preference = _PREFERENCES.get(user_id)
    return None if preference is MISSING else preference


def preference_remember(preference: UserPreference) -> None:
    """Keep a row just read from the database in the shared cache."""
    _PREFERENCES.remember(preference.user_id, preference)


@receiver(post_save, sender=UserPreference)
@receiver(post_delete, sender=UserPreference)
def _preference_changed(sender, instance: UserPreference, **kwargs) -> None:
    _PREFERENCES.forget([instance.user_id])
