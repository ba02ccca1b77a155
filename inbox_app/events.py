"""The inbox's one hook for apps that react to a change in a feed (outbound webhooks' read/seen/archived
events, say).

`feed_changed` is a Django signal sent with `sender=FeedMessage` and one argument, `change`: a
`FeedChange`. It is sent inside the transaction that wrote the change, after the rows and the counters
are written and before the commit, so a receiver's own writes (an outbox row) commit or roll back with
it, and a receiver that raises undoes the change. Receivers must be quick and must not call out of the
process; work for later goes through `transaction.on_commit` or a row a worker picks up.

It is sent once per change that touched at least one message: a message written to the feed
(`created`), or messages marked `seen`, `read`, `unread`, `archived` or `unarchived`. `message_ids`
lists only the messages whose state the change altered (marking a read message read again alters
none, and sends nothing).
"""

import datetime as dt
from dataclasses import dataclass

from django.dispatch import Signal

feed_changed = Signal()

CREATED, SEEN, READ, UNREAD, ARCHIVED, UNARCHIVED = "created", "seen", "read", "unread", "archived", "unarchived"
MARKS = (SEEN, READ, UNREAD, ARCHIVED, UNARCHIVED)


@dataclass(frozen=True)
class FeedChange:
    """One change to a user's feed, with the user's counts as the change left them."""

    user_id: int
    action: str
    message_ids: tuple[int, ...]
    unread: int
    unseen: int
    at: dt.datetime
