"""Celery tasks: thin wrappers around the pipeline's stages, registered under the names the pipeline
publishes them by (logs_app.pipeline.queue)."""

from celery import shared_task
from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings
from django.utils import timezone

from notification_channels import registry

from .partitions import is_partitioned
from .retirement import partitions_maintain
from .pipeline.bulk import bulk_send_enqueue
from .pipeline.deliver import logs_deliver
from .pipeline.lanes import Lane, lane_bound
from .pipeline.queue import BULK_SEND_ENQUEUE_TASK, DELIVER_TASK, SWEEP_TASK, TRIGGER_ENQUEUE_TASK
from .pipeline.sweep import logs_sweep_due
from .pipeline.trigger import trigger_enqueue


@shared_task(name=DELIVER_TASK, ignore_result=True, bind=True)
def deliver_logs(self, log_ids: list[int]) -> dict[str, int]:
    """Deliver the due logs among `log_ids`; already-finished or claimed ones are skipped.

    The message's `request_ids` header (log id -> request id) puts each log's lines under its request.
    """
    request_ids = getattr(self.request, "request_ids", None)
    with lane_bound(_lane(self)):  # a retry or a released log is queued again in the lane it came in
        return logs_deliver(log_ids=log_ids, request_ids=request_ids if isinstance(request_ids, dict) else None)


@shared_task(name=BULK_SEND_ENQUEUE_TASK, ignore_result=True, bind=True)
def enqueue_batch(self, batch_id: str, after_id: int = 0) -> None:
    """Queue the delivery tasks of a committed bulk send (its pending, unscheduled logs), a turn at a time."""
    bulk_send_enqueue(batch_id=batch_id, after_id=after_id, lane=_lane(self))


@shared_task(name=TRIGGER_ENQUEUE_TASK, ignore_result=True, bind=True)
def enqueue_trigger(self, trigger_id: str, after_id: int = 0) -> None:
    """Queue the delivery tasks of a committed trigger (its pending, unscheduled logs), a turn at a time."""
    trigger_enqueue(trigger_id=trigger_id, after_id=after_id, lane=_lane(self))


def _lane(task) -> Lane | None:
    """The lane a task message came in (its `lane` header; run in process, Celery keeps the headers apart);
    None for messages from before lanes."""
    lane = getattr(task.request, "lane", None) or (getattr(task.request, "headers", None) or {}).get("lane")
    return Lane(lane) if lane in Lane._value2member_map_ else None


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_due() -> int:
    """Queue scheduled, deferred, retrying and orphaned pending logs whose time has come."""
    return logs_sweep_due()


@shared_task(name="logs_app.tasks.log_partitions", ignore_result=True)
def log_partitions() -> None:
    """Beat's daily run of `log_partitions` on PostgreSQL: partitions ahead, and retirement when
    LOG_PARTITION_RETENTION_DAYS is set. Elsewhere the log is one plain table and there is nothing to do."""
    if is_partitioned():
        partitions_maintain(now=timezone.now(), ahead=settings.LOG_PARTITIONS_AHEAD,
                            period=settings.LOG_PARTITION_PERIOD,
                            retention_days=settings.LOG_PARTITION_RETENTION_DAYS or None)


@worker_process_init.connect
def _open_provider_connections(**kwargs) -> None:
    registry.open_all()


@worker_process_shutdown.connect
def _close_provider_connections(**kwargs) -> None:
    registry.close()
