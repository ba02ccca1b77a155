"""Consent records: every change of what a user agreed to receive, written as it happens, read in order.

Preference changes arrive through preferences_app's `preferences_changed` hook (whatever door made them);
the suppression list writes its own for the users whose address or number it lists or releases.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.dispatch import receiver

from preferences_app.models import UserPreference
from preferences_app.signals import preferences_changed

from .models import ConsentRecord, ConsentSource, SuppressionChannel

EXPORT_CHUNK = 1000


def consent_record_changes(*, user_id: int, source: str, changes: Iterable[tuple[str, str | None, str | None]],
                           detail: str = "") -> list[ConsentRecord]:
    """Write one record per (field, old, new) change of the user's consent, in one INSERT."""
    source = source if source in ConsentSource.values else ConsentSource.INTERNAL
    return ConsentRecord.objects.bulk_create([
        ConsentRecord(user_id=user_id, field=field, old_value=old, new_value=new, source=source, detail=detail[:500])
        for field, old, new in changes])


@receiver(preferences_changed, dispatch_uid="consent_app.record_preference_changes")
def _record_preference_changes(sender: Any, user_id: int, source: str, changes: list, **kwargs: Any) -> None:
    consent_record_changes(user_id=user_id, source=source, changes=changes)


def users_with_address(*, channel: str, address: str) -> list[int]:
    """The users whose email address (any case) or phone number on file is `address`."""
    if channel == SuppressionChannel.EMAIL:
        found = UserPreference.objects.filter(email__iexact=address)
    else:
        found = UserPreference.objects.filter(phone_number=address)
    return list(found.order_by("user_id").values_list("user_id", flat=True))


def consent_record_suppression(*, channel: str, address: str, old: str | None, new: str | None, detail: str) -> None:
    """Record a suppression's start (`new` reason) or end (`old` reason) for each user with the address."""
    for user_id in users_with_address(channel=channel, address=address):
        consent_record_changes(user_id=user_id, source=ConsentSource.SUPPRESSION,
                               changes=[(f"suppression.{channel}", old, new)], detail=detail)


def consent_history(*, user_id: int) -> QuerySet[ConsentRecord]:
    """A user's consent records, oldest first."""
    return ConsentRecord.objects.filter(user_id=user_id).order_by("created_at", "id")


def consent_history_export(*, user_id: int) -> Iterator[dict[str, Any]]:
    """A user's consent records as JSON-ready records, oldest first, EXPORT_CHUNK per query (keyset on id,
    in the order they were written; no server-side cursor)."""
    last_id = 0
    while True:
        chunk = list(ConsentRecord.objects.filter(user_id=user_id, id__gt=last_id).order_by("id")[:EXPORT_CHUNK])
        for record in chunk:
            yield {"at": record.created_at.isoformat(), "source": record.source, "field": record.field,
                   "old_value": record.old_value, "new_value": record.new_value, "detail": record.detail}
        if len(chunk) < EXPORT_CHUNK:
            return
        last_id = chunk[-1].pk


def consent_history_erase(*, user_id: int) -> int:
    """Anonymise a user's consent records on erasure: they keep field, values, source and time (how many
    unsubscribed, and how) but no user id (0) and no detail (addresses). Returns how many."""
    return ConsentRecord.objects.filter(user_id=user_id).update(user_id=0, detail="")
