"""Changing feeds: writing a message, marking messages, purging old ones; the counters change in the same
transaction, from the rows each change actually altered, so they cannot drift.

Every change locks the messages it alters (in id order) before it writes them, then changes the user's
counter row: two tabs marking the same message read at once both lock it, the second finds it read
already (PostgreSQL reads the row again after the wait) and changes nothing.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import live
from .events import ARCHIVED, CREATED, MARKS, READ, SEEN, UNARCHIVED, UNREAD, FeedChange, feed_changed
from .models import FeedCounter, FeedMessage

# How many messages one statement marks; a change to more runs several, in one transaction.
MARK_CHUNK = 1000
# Most ids one call may name (mark many); "all" has no such limit.
MARK_MAX_IDS = 1000


@dataclass(frozen=True)
class FeedCounts:
    unread: int
    unseen: int


_COUNTER = FeedCounter._meta.db_table
_ADD_TO_COUNTER = (f"UPDATE {_COUNTER} SET unread = unread + %s, unseen = unseen + %s WHERE user_id = %s "
                   f"RETURNING unread, unseen")
# The user's first message makes the row; two first messages at once meet in the ON CONFLICT.
_START_COUNTER = (f"INSERT INTO {_COUNTER} (user_id, unread, unseen) VALUES (%s, %s, %s) ON CONFLICT (user_id) "
                  f"DO UPDATE SET unread = {_COUNTER}.unread + EXCLUDED.unread, "
                  f"unseen = {_COUNTER}.unseen + EXCLUDED.unseen RETURNING unread, unseen")


def _counter_add(*, user_id: int, unread: int, unseen: int) -> FeedCounts:
    """Add to the user's counts and return them: one UPDATE, or one upsert for a user without a row yet
    (PostgreSQL checks an upsert's row as inserted, so a decrement cannot go that way)."""
    with connection.cursor() as cursor:
        cursor.execute(_ADD_TO_COUNTER, [unread, unseen, user_id])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_START_COUNTER, [user_id, unread, unseen])
            row = cursor.fetchone()
    return FeedCounts(unread=row[0], unseen=row[1])


def _announce(*, user_id: int, action: str, ids: Sequence[int], counts: FeedCounts, at: dt.datetime) -> None:
    """Tell the hook's receivers now (inside the transaction) and the live streams after the commit."""
    change = FeedChange(user_id=user_id, action=action, message_ids=tuple(ids), unread=counts.unread,
                        unseen=counts.unseen, at=at)
    feed_changed.send(sender=FeedMessage, change=change)
    event = "message" if action == CREATED else "counts"
    data = {"action": action, "ids": list(ids)[:MARK_MAX_IDS], "unread_count": counts.unread,
            "unseen_count": counts.unseen}
    transaction.on_commit(lambda: live.event_publish(user_id=user_id, event=event, data=data))


def feed_message_create(*, user_id: int, title: str, body: str, log_id: int | None = None, action_url: str = "",
                        data: dict[str, Any] | None = None, kind: str = "", category: str = ""
                        ) -> tuple[FeedMessage, bool]:
    """Put a message in the user's feed (unread and unseen) and count it. Returns (message, created): a log
    writes its message once, so a log delivered again gets its first message back, created False."""
    # Imported here: messages are made where they are delivered, so web processes need not load Markdown.
    from .markdown import markdown_to_html

    if log_id is not None:
        earlier = FeedMessage.objects.filter(log_id=log_id).first()
        if earlier is not None:
            return earlier, False
    message = FeedMessage(user_id=user_id, log_id=log_id, title=title, body=body, body_html=markdown_to_html(body),
                          action_url=action_url or "", data=data or {}, kind=kind or "", category=category or "")
    try:
        with transaction.atomic():
            message.save()
            counts = _counter_add(user_id=user_id, unread=1, unseen=1)
            _announce(user_id=user_id, action=CREATED, ids=[message.pk], counts=counts, at=message.created_at)
    except IntegrityError:
        earlier = FeedMessage.objects.filter(log_id=log_id).first() if log_id is not None else None
        if earlier is None:
            raise
        return earlier, False
    return message, True


# Per mark: which messages it alters, and how one altered message moves the counts, given its row
# (seen_at, read_at, archived_at) before the change.
_ALTERS = {
    SEEN: Q(seen_at__isnull=True),
    READ: Q(read_at__isnull=True),
    UNREAD: Q(read_at__isnull=False),
    ARCHIVED: Q(archived_at__isnull=True),
    UNARCHIVED: Q(archived_at__isnull=False),
}


def _deltas(action: str, seen_at: Any, read_at: Any, archived_at: Any) -> tuple[int, int]:
    """(unread, unseen) change for one message the action alters."""
    active = archived_at is None
    if action == SEEN:
        return 0, -1 if active else 0
    if action == READ:
        return (-1 if active else 0), (-1 if active and seen_at is None else 0)
    if action == UNREAD:
        return (1 if active else 0), 0
    if action == ARCHIVED:
        return (-1 if read_at is None else 0), (-1 if seen_at is None else 0)
    return (1 if read_at is None else 0), (1 if seen_at is None else 0)  # UNARCHIVED


def _updates(action: str, now: dt.datetime) -> dict[str, Any]:
    return {SEEN: {"seen_at": now}, READ: {"read_at": now, "seen_at": Coalesce("seen_at", now)},
            UNREAD: {"read_at": None}, ARCHIVED: {"archived_at": now}, UNARCHIVED: {"archived_at": None}}[action]


def _check_ids(ids: Any) -> list[int]:
    if not isinstance(ids, (list, tuple)) or not ids:
        raise ValidationError({"ids": "Name at least one message id."})
    if len(ids) > MARK_MAX_IDS:
        raise ValidationError({"ids": f"At most {MARK_MAX_IDS} ids per call; mark all to change every message."})
    if any(isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= 2**63 - 1 for i in ids):
        raise ValidationError({"ids": "Must be message ids (positive integers)."})
    return sorted(set(ids))


def feed_mark(*, user_id: int, action: str, ids: Iterable[int] | None = None, category: str | None = None
              ) -> tuple[list[int], FeedCounts]:
    """Mark the user's messages `ids` (or every message of the user, of one category if given, with ids None)
    seen, read, unread, archived or unarchived. Returns the ids whose state changed and the counts after.

    Ids of other users' messages, or of none, are left alone as if absent (the caller checks existence
    where it must answer 404). Raises ValidationError under `action` or `ids`.
    """
    if action not in MARKS:
        raise ValidationError({"action": f"Must be one of: {', '.join(MARKS)}."})
    wanted = None if ids is None else _check_ids(list(ids))
    now = timezone.now()
    rows = FeedMessage.objects.filter(_ALTERS[action], user_id=user_id)
    if category:
        rows = rows.filter(category=category)
    changed: list[int] = []
    unread = unseen = 0
    with transaction.atomic():
        batches = ([wanted[i:i + MARK_CHUNK] for i in range(0, len(wanted), MARK_CHUNK)] if wanted is not None
                   else [None])
        for batch in batches:
            scope = rows if batch is None else rows.filter(id__in=batch)
            found = list(scope.select_for_update().order_by("id").values_list("id", "seen_at", "read_at",
                                                                                "archived_at"))
            for start in range(0, len(found), MARK_CHUNK):
                chunk = found[start:start + MARK_CHUNK]
                FeedMessage.objects.filter(id__in=[row[0] for row in chunk]).update(**_updates(action, now))
                for message_id, *state in chunk:
                    d_unread, d_unseen = _deltas(action, *state)
                    unread, unseen = unread + d_unread, unseen + d_unseen
                    changed.append(message_id)
        if not changed:
            return [], feed_counts_get(user_id=user_id)
        counts = _counter_add(user_id=user_id, unread=unread, unseen=unseen)
        _announce(user_id=user_id, action=action, ids=changed, counts=counts, at=now)
    return changed, counts


def feed_counts_get(*, user_id: int) -> FeedCounts:
    """The user's counts: one row read, however long the feed."""
    row = FeedCounter.objects.filter(user_id=user_id).values_list("unread", "unseen").first()
    return FeedCounts(unread=row[0], unseen=row[1]) if row else FeedCounts(unread=0, unseen=0)


def feed_erase(*, user_id: int) -> int:
    """Delete the user's whole feed and counters (erasure of their data); returns the messages deleted."""
    with transaction.atomic():
        deleted = FeedMessage.objects.filter(user_id=user_id).delete()[0]
        FeedCounter.objects.filter(user_id=user_id).delete()
    return deleted


def feed_purge(*, older_than: dt.datetime | None = None, batch: int = MARK_CHUNK, dry_run: bool = False) -> int:
    """Delete read or archived messages created before `older_than` (default: INBOX_RETENTION_DAYS ago; 0
    days keeps them forever), a batch per statement. Unread, unarchived messages are kept whatever their age.
    Counters do not change: neither kind of message is counted. Returns how many were (or, with `dry_run`,
    would be) deleted."""
    if older_than is None:
        if settings.INBOX_RETENTION_DAYS <= 0:
            return 0
        older_than = timezone.now() - dt.timedelta(days=settings.INBOX_RETENTION_DAYS)
    old = FeedMessage.objects.filter(Q(read_at__isnull=False) | Q(archived_at__isnull=False),
                                     created_at__lt=older_than)
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        ids = list(old.order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            return deleted
        # A message marked unread or unarchived meanwhile is counted again: the condition is checked anew.
        deleted += old.filter(id__in=ids).delete()[0]
