"""Business operations on preferences: defaults, updates, devices, and quiet hours in local time."""

import datetime as dt
import re
import zoneinfo
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from .models import USER_ID_MAX, Device, UserPreference, is_user_id
from .selectors import preference_cached, preference_remember
from .signals import CONSENT_FIELDS, send_changes

UPDATABLE_FIELDS = (
    "email_enabled", "sms_enabled", "push_enabled", "in_app_enabled", "quiet_hours_start", "quiet_hours_end",
    "timezone", "email", "phone_number",
)

# What an explicit null may not clear (GraphQL's inputs let a client send one).
NOT_NULL_FIELDS = ("email_enabled", "sms_enabled", "push_enabled", "in_app_enabled", "timezone")


def validate_user_id(user_id: Any) -> int:
    """The user id itself, if it is one. Raises ValidationError under "user_id"."""
    if not is_user_id(user_id):
        raise ValidationError({"user_id": f"Must be a whole number from 1 to {USER_ID_MAX}."})
    return user_id


def preference_get_or_default(*, user_id: int) -> UserPreference:
    """The user's stored preferences, or the defaults (all channels on, no quiet hours) unsaved when the
    user has none: for readers that must not create the row (a send that may yet be refused).

    Read through the shared cache, which every save and delete of the row clears.
    """
    user_id = validate_user_id(user_id)
    preference = preference_cached(user_id=user_id)
    if preference is not None:
        return preference
    preference = UserPreference.objects.filter(user_id=user_id).first()
    if preference is None:
        return UserPreference(user_id=user_id)
    if not transaction.get_connection().in_atomic_block:  # a row seen inside a transaction may yet roll back
        preference_remember(preference)
    return preference


def preference_get_or_create(*, user_id: int) -> UserPreference:
    """The user's preferences, created with the defaults (all channels on, no quiet hours) on first read."""
    preference = preference_get_or_default(user_id=user_id)
    if preference.pk is not None:
        return preference
    try:
        preference, _ = UserPreference.objects.get_or_create(user_id=user_id)
    except IntegrityError:  # a concurrent first read created it between our get and our insert
        preference = UserPreference.objects.get(user_id=user_id)
    if not transaction.get_connection().in_atomic_block:  # a row seen inside a transaction may yet roll back
        preference_remember(preference)
    return preference


# A wall-clock time in the user's timezone: no seconds (both APIs answer HH:MM), no UTC offset (the
# timezone is the user's own setting).
TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def parse_time(field: str, value: Any) -> dt.time | None:
    """A time of day from a time, None/"" or an "HH:MM" string. Raises ValidationError."""
    if value is None or value == "" or isinstance(value, dt.time):
        return value or None
    if isinstance(value, str) and TIME_OF_DAY.fullmatch(value):
        return dt.time.fromisoformat(value)
    raise ValidationError({field: f"{value!r} is not a time of day; use HH:MM (local time, no seconds or "
                                  "offset), for example 22:00."})


@transaction.atomic
def preference_update(*, user_id: int, source: str = "internal", **changes: Any) -> UserPreference:
    """Change some of a user's preferences (creating the row if needed). Raises ValidationError.

    Quiet hours are set together: both times, or neither (None clears them). A change of a channel switch,
    the quiet hours or the timezone is told to `preferences_changed` with `source` (the door it came by).
    """
    unknown = set(changes) - set(UPDATABLE_FIELDS)
    if unknown:
        raise ValidationError({field: "Unknown field." for field in sorted(unknown)})
    nulls = [field for field in NOT_NULL_FIELDS if field in changes and changes[field] is None]
    if nulls:
        raise ValidationError({field: "May not be null; leave the field out to keep its value." for field in nulls})
    preference = preference_get_or_create(user_id=user_id)
    preference = UserPreference.objects.select_for_update().get(pk=preference.pk)
    before = {field: getattr(preference, field) for field in CONSENT_FIELDS}
    for field in ("quiet_hours_start", "quiet_hours_end"):
        if field in changes:
            changes[field] = parse_time(field, changes[field])
    for field, value in changes.items():
        setattr(preference, field, value)
    if (preference.quiet_hours_start is None) != (preference.quiet_hours_end is None):
        raise ValidationError({"quiet_hours_start": "Set both quiet_hours_start and quiet_hours_end, or neither."})
    preference.full_clean()
    preference.save()
    send_changes(user_id=preference.user_id, source=source, before=before,
                 after={field: getattr(preference, field) for field in CONSENT_FIELDS})
    return preference


def quiet_hours_end_for(preference: UserPreference, at: dt.datetime) -> dt.datetime | None:
    """When the user's quiet hours end, if `at` falls inside them; None if it does not.

    Times are wall-clock times in the user's timezone, so a window from 22:00 to 07:00 stays
    22:00 to 07:00 across DST changes. A window may cross midnight. An end time the clocks skip
    that day reads as if they had not jumped (02:30 on a spring-forward night is 03:30 summer
    time); an end time that occurs twice is its first occurrence. Equal start and end: no window.
    """
    start, end = preference.quiet_hours_start, preference.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = zoneinfo.ZoneInfo(preference.timezone)
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside, end_date = start <= now < end, local.date()
    else:
        inside = now >= start or now < end
        end_date = local.date() if now < end else local.date() + dt.timedelta(days=1)
    if not inside:
        return None
    return dt.datetime.combine(end_date, end, tzinfo=zone).astimezone(dt.timezone.utc)


def device_add(*, user_id: int, platform: str, token: str) -> Device:
    """Register (or re-activate) a push token for the user. Raises ValidationError, under "token" for one that
    is not a token of the platform (Device.clean).

    A token already registered to another user moves to this one: the device changed hands.
    """
    token = (token or "").strip()
    preference = preference_get_or_create(user_id=user_id)
    device = Device.objects.filter(platform=platform, token=token).first() or Device(platform=platform, token=token)
    device.preference = preference
    device.active = True
    device.full_clean(validate_unique=False)
    device.save()
    return device


def device_remove(*, user_id: int, device_id: int) -> None:
    """Delete one of the user's devices. Raises Device.DoesNotExist if it is not theirs."""
    Device.objects.get(pk=device_id, preference__user_id=user_id).delete()


def device_deactivate(*, platform: str, token: str) -> int:
    """Mark a token inactive after the provider said it is unregistered; returns how many changed."""
    return Device.objects.filter(platform=platform, token=token, active=True).update(active=False)


def device_list(*, user_id: int) -> QuerySet[Device]:
    """The user's push devices, newest first, inactive ones included (the REST API's devices list)."""
    return Device.objects.filter(preference__user_id=validate_user_id(user_id)).order_by("-created_at", "-id")
