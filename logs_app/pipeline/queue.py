"""Queueing committed logs for delivery: delivery tasks published by name, in batches, and the
publisher thread that batches single sends.

The pipeline publishes tasks by name and never imports `logs_app.tasks` (the tasks import the
pipeline); the names are the wire names of the task messages, so they do not change.
"""

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from celery import current_app
from django.conf import settings

from kit.logging import get_request_id, request_id_bound

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


def task_publish(*, name: str, args: list[Any], **options: Any) -> None:
    """Queue the task called `name`, or run it at once when tasks run in process: Celery's eager
    `apply_async` would still open a producer on the broker there is none of, and kombu would warn
    "No hostname was supplied"."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        current_app.tasks[name].apply(args=args, headers=options.get("headers"))
    else:
        current_app.send_task(name, args=args, **options)


def logs_enqueue(*, log_ids: Iterable[int], countdown: float | None = None,
                 request_ids: Mapping[int, str] | None = None) -> None:
    """Hand logs to the delivery task in batches. A broker outage is logged, not raised:
    the logs are committed, and the sweep queues them again once the broker is back.

    `request_ids` names the API request behind each log, for the worker's log lines about it
    (the task message carries them in its `request_ids` header).
    """
    for batch in chunks(log_ids, settings.NOTIFICATION_TASK_BATCH_SIZE):
        options: dict[str, Any] = {"countdown": countdown}
        if request_ids:
            options["headers"] = {"request_ids": {str(i): request_ids[i] for i in batch if i in request_ids}}
        try:
            task_publish(name=DELIVER_TASK, args=[batch], **options)
        except Exception as err:  # kombu raises several types; every one means "not queued now"
            logger.warning("could not queue notifications; the sweep will retry",
                           extra={"log_ids": batch[:10], "count": len(batch), "error": type(err).__name__})


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
    if settings.CELERY_TASK_ALWAYS_EAGER:
        logs_enqueue(log_ids=[log_id])
    else:
        _publisher.add((log_id, get_request_id()))
