"""Queueing committed logs for delivery: delivery tasks published by name, in batches, to their lane's
queue (lanes.py); a bulk fan-out in turns; and the publisher thread that batches single sends.

The pipeline publishes tasks by name and never imports `logs_app.tasks` (the tasks import the
pipeline); the names are the wire names of the task messages, so they do not change.
"""

import logging
import datetime as dt
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from kit.dispatch import task_dispatcher
from kit.logging import get_request_id, request_id_bound

from .lanes import Lane, current_lane, queue_for
from .publisher import Publisher

logger = logging.getLogger(__name__)

DELIVER_TASK = "logs_app.tasks.deliver_logs"
BULK_SEND_ENQUEUE_TASK = "logs_app.tasks.enqueue_batch"
TRIGGER_ENQUEUE_TASK = "logs_app.tasks.enqueue_trigger"
SWEEP_TASK = "logs_app.tasks.sweep_due"


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def task_publish(*, name: str, args: list[Any], lane: Lane | None = None, **options: Any) -> None:
    """Queue the task called `name` in `lane`'s queue (its `lane` header says which), or run it at once
    when tasks run in process (kit.dispatch)."""
    if lane is not None:
        options["headers"] = {**(options.get("headers") or {}), "lane": str(lane)}
        if queue := queue_for(lane):
            options["queue"] = queue
    task_dispatcher().publish(name, args, **options)


def logs_enqueue(*, log_ids: Iterable[int], countdown: float | None = None,
                 request_ids: Mapping[int, str] | None = None, lane: Lane | None = None) -> None:
    """Hand logs to the delivery task in batches, in `lane` (by default the lane of the task running
    now, so a retry stays in its lane; else urgent). A broker outage is logged, not raised: the logs
    are committed, and the sweep queues them again once the broker is back.

    `request_ids` names the API request behind each log, for the worker's log lines about it
    (the task message carries them in its `request_ids` header).
    """
    lane = lane or current_lane() or Lane.URGENT
    if countdown:  # whole seconds: RabbitMQ's delayed delivery takes no fraction (and refuses under one)
        countdown = math.ceil(countdown)
    for batch in chunks(log_ids, settings.NOTIFICATION_TASK_BATCH_SIZE):
        options: dict[str, Any] = {"countdown": countdown, "lane": lane}
        if request_ids:
            options["headers"] = {"request_ids": {str(i): request_ids[i] for i in batch if i in request_ids}}
        try:
            task_publish(name=DELIVER_TASK, args=[batch], **options)
        except Exception as err:  # kombu raises several types; every one means "not queued now"
            logger.warning("could not queue notifications; the sweep will retry",
                           extra={"log_ids": batch[:10], "count": len(batch), "error": type(err).__name__})


def logs_enqueue_turn(*, pending: QuerySet, lane: Lane, continuation: str, key: str, after_id: int = 0) -> None:
    """Queue one turn of a fan-out (a bulk send's or a trigger's `pending` logs with ids past `after_id`):
    NOTIFICATION_BULK_TURN_BATCHES delivery tasks, then the `continuation` task (args: `key`, the last id
    queued), which queues the next turn when a worker reaches it, behind every task queued meanwhile.

    So each fan-out has at most one turn in the queue at a time, and fan-outs running together take turns
    (round robin by send): a 100-user send started during a million-user one waits for one turn of each
    running send, not for the whole drain. The logs still waiting for their turn are marked queued again
    before the sweep would take them for lost. With NOTIFICATION_BULK_TURN_BATCHES = 0, and when tasks
    run in process, all at once.
    """
    turn = settings.NOTIFICATION_BULK_TURN_BATCHES * settings.NOTIFICATION_TASK_BATCH_SIZE
    pending = pending.filter(id__gt=after_id).order_by("id")
    if turn <= 0 or not task_dispatcher().defers:
        logs_enqueue(log_ids=pending.values_list("id", flat=True).iterator(chunk_size=2000), lane=lane)
        return
    ids = list(pending.values_list("id", flat=True)[:turn + 1])
    more, ids = len(ids) > turn, ids[:turn]
    now = timezone.now()
    if more:
        stale = now - dt.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS / 2)
        pending.filter(id__gt=ids[-1], queued_at__lt=stale).update(queued_at=now)
    logs_enqueue(log_ids=ids, lane=lane)
    if more:
        fan_out_publish(task=continuation, key=key, after_id=ids[-1], lane=lane)


def fan_out_publish(*, task: str, key: str, lane: Lane, after_id: int | None = None) -> None:
    """Queue a fan-out's task: its first turn (from the request, after the commit: the worker, not the request,
    publishes the delivery tasks), or the turn after `after_id`. As in `logs_enqueue`, a broker outage is
    logged, not raised: the logs are committed, and the sweep queues them once they look lost."""
    try:
        task_publish(name=task, args=[key] if after_id is None else [key, after_id], lane=lane)
    except Exception as err:
        logger.warning("could not queue a fan-out turn; the sweep will queue its logs",
                       extra={"task": task, "key": key, "error": type(err).__name__})


def _publish_linger_seconds() -> float:
    return max(0, settings.NOTIFICATION_PUBLISH_LINGER_MS) / 1000


def _publish_accepted(accepted: list[tuple[int, str | None]]) -> None:
    """Queue (log id, request id) pairs from the publisher thread. When they all came from one request,
    the task carries that request's id as its own, as if the request had queued it."""
    request_ids = {log_id: request_id for log_id, request_id in accepted if request_id}
    shared = set(request_ids.values())
    one_request = shared.pop() if len(shared) == 1 and len(request_ids) == len(accepted) else None
    with request_id_bound(one_request):
        logs_enqueue(log_ids=[log_id for log_id, _ in accepted], request_ids=request_ids)


_publisher = Publisher(_publish_accepted, linger_seconds=_publish_linger_seconds)


def log_enqueue_soon(*, log_id: int) -> None:
    """Queue one committed log: through this process's publisher thread, which batches what arrives
    together (see publisher.py), or at once when tasks run in process."""
    if not task_dispatcher().defers:
        logs_enqueue(log_ids=[log_id])
    else:
        _publisher.add((log_id, get_request_id()))
