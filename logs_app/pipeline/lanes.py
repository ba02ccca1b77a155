"""Delivery lanes: which queue a delivery task goes to, decided here and nowhere else.

Two lanes, each a broker queue: `urgent` (NOTIFICATION_URGENT_QUEUE) carries what one person is waiting
for, `bulk` (NOTIFICATION_BULK_QUEUE) carries sends to many. The rule (`lane_for`), first match wins:

1. `priority: urgent`                                   -> urgent
2. a kind marked critical (one-time codes, security)    -> urgent
3. many recipients: a bulk send, a trigger whose users
   and topic members are more than one                  -> bulk
4. anything else (a single send, a one-user trigger)    -> urgent

A retry or a released log stays in the lane its task came from; the sweep works a log's lane out from
its row. Urgent workers consume both queues and bulk workers only `bulk`, so an idle urgent worker helps
the bulk drain and bulk never takes an urgent worker's place for long (one batch at most, with a
prefetch of one). With NOTIFICATION_LANES off, everything goes to the one default queue, as before.
"""

import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from enum import StrEnum

from django.conf import settings

from ..models import NotificationLog, Priority, Trigger


class Lane(StrEnum):
    URGENT = "urgent"
    BULK = "bulk"


def lane_for(*, priority: str, critical: bool = False, recipients: int = 1) -> Lane:
    """The lane of a send to `recipients` users: see the module's rule."""
    if priority == Priority.URGENT or critical:
        return Lane.URGENT
    return Lane.BULK if recipients > 1 else Lane.URGENT


def trigger_lane(trigger: Trigger) -> Lane:
    """A trigger's lane (its recipients are the users named and the topics' members, each once); a kind
    deleted since is not critical any more."""
    critical = trigger.kind is not None and trigger.kind.critical
    return lane_for(priority=trigger.priority, critical=critical, recipients=trigger.recipients)


def queue_for(lane: Lane | str | None) -> str | None:
    """The broker queue of a lane; None (Celery's default queue) with lanes off."""
    if not settings.NOTIFICATION_LANES or lane is None:
        return None
    return settings.NOTIFICATION_BULK_QUEUE if lane == Lane.BULK else settings.NOTIFICATION_URGENT_QUEUE


_current: contextvars.ContextVar[Lane | None] = contextvars.ContextVar("notification_lane", default=None)


@contextlib.contextmanager
def lane_bound(lane: Lane | None) -> Iterator[None]:
    """Within this block (a delivery task), logs queued again (retries, releases) keep `lane`."""
    token = _current.set(lane)
    try:
        yield
    finally:
        _current.reset(token)


def current_lane() -> Lane | None:
    return _current.get()


def lanes_of_logs(log_ids: Iterable[int]) -> dict[Lane, list[int]]:
    """Pending logs grouped by lane, read from their rows (the sweep's case: it knows only their ids)."""
    rows = list(NotificationLog.objects.filter(pk__in=list(log_ids))
                .values_list("id", "priority", "batch_id", "trigger_id"))
    triggers = {trigger.id: trigger_lane(trigger) for trigger in Trigger.objects.select_related("kind")
                .filter(id__in={row[3] for row in rows if row[3]})}
    grouped: dict[Lane, list[int]] = {}
    for log_id, priority, batch_id, trigger_id in rows:
        if trigger_id in triggers:
            lane = triggers[trigger_id]
        else:  # a bulk send's log, a single send's, or one of a trigger gone since
            lane = lane_for(priority=priority, recipients=2 if batch_id or trigger_id else 1)
        grouped.setdefault(lane, []).append(log_id)
    return grouped
