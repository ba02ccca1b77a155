"""Reading feeds: a user's messages newest first, a page at a time from a cursor, with filters."""

from django.db.models import Q, QuerySet

from .models import FeedMessage

# Which messages each `status` filter lists; the feed's default is everything not archived.
STATUS_FILTERS = {
    "inbox": Q(archived_at__isnull=True),
    "unread": Q(read_at__isnull=True, archived_at__isnull=True),
    "read": Q(read_at__isnull=False, archived_at__isnull=True),
    "unseen": Q(seen_at__isnull=True, archived_at__isnull=True),
    "archived": Q(archived_at__isnull=False),
    "all": Q(),
}


def feed_list(*, user_id: int, status: str = "inbox", category: str | None = None, before: int | None = None,
              size: int = 20) -> tuple[list[FeedMessage], int | None]:
    """A page of the user's messages, newest first: (messages, the cursor of the next page or None).

    `before` is the cursor an earlier page gave (the id of its last message); the page starts after it,
    so messages arriving meanwhile neither shift nor repeat what the client has.

    The user is asked for as a range of one id, ordered by user then id, so the page is read from the user's
    index (ix_inbox_messages_user, or ix_inbox_messages_unread for unread) however the table is made up. With
    `user_id = %s ORDER BY id DESC`, PostgreSQL may instead walk the primary key backwards from the newest
    message of all when one user holds a large share of the table, reading every newer message of everyone
    else: 200,000 rows and 85 ms for a page of 20 where the user's index reads 21 rows in 0.03 ms.
    """
    messages: QuerySet[FeedMessage] = FeedMessage.objects.filter(STATUS_FILTERS[status], user_id__gte=user_id,
                                                                 user_id__lte=user_id)
    if category:
        messages = messages.filter(category=category)
    if before is not None:
        messages = messages.filter(id__lt=before)
    page = list(messages.order_by("user_id", "-id")[:size + 1])
    more = len(page) > size
    page = page[:size]
    return page, (page[-1].pk if more else None)


def feed_message_get(*, user_id: int, message_id: int) -> FeedMessage:
    """One of the user's messages; another user's is as absent as one that never was (DoesNotExist)."""
    return FeedMessage.objects.get(user_id=user_id, pk=message_id)


def feed_messages_by_id(*, user_id: int, ids: list[int]) -> list[FeedMessage]:
    """The user's messages among `ids`, newest first (the live stream reads the messages it announces)."""
    return list(FeedMessage.objects.filter(user_id=user_id, pk__in=ids).order_by("-id"))
