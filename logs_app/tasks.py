"""Celery tasks: thin wrappers around the pipeline's stages, registered under the names the pipeline
publishes them by (logs_app.pipeline.queue)."""

from celery import shared_task
from celery.signals import worker_process_init, worker_process_shutdown

from notification_channels import registry

from .pipeline.bulk import bulk_send_enqueue
from .pipeline.deliver import logs_deliver
from .pipeline.queue import BULK_SEND_ENQUEUE_TASK, DELIVER_TASK, SWEEP_TASK, TRIGGER_ENQUEUE_TASK
from .pipeline.sweep import logs_sweep_due
from .pipeline.trigger import trigger_enqueue


@shared_task(name=DELIVER_TASK, ignore_result=True, bind=True)
def deliver_logs(self, log_ids: list[int]) -> dict[str, int]:
    """Deliver the due logs among `log_ids`; already-finished or claimed ones are skipped.

    The message's `request_ids` header (log id -> request id) puts each log's lines under its request.
    """
    request_ids = getattr(self.request, "request_ids", None)
    return logs_deliver(log_ids=log_ids, request_ids=request_ids if isinstance(request_ids, dict) else None)


@shared_task(name=BULK_SEND_ENQUEUE_TASK, ignore_result=True)
def enqueue_batch(batch_id: str) -> None:
    """Queue the delivery tasks of a committed bulk send (its pending, unscheduled logs)."""
    bulk_send_enqueue(batch_id=batch_id)


@shared_task(name=TRIGGER_ENQUEUE_TASK, ignore_result=True)
def enqueue_trigger(trigger_id: str) -> None:
    """Queue the delivery tasks of a committed trigger (its pending, unscheduled logs)."""
    trigger_enqueue(trigger_id=trigger_id)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_due() -> int:
    """Queue scheduled, deferred, retrying and orphaned pending logs whose time has come."""
    return logs_sweep_due()


@worker_process_init.connect
def _open_provider_connections(**kwargs) -> None:
    registry.open_all()


@worker_process_shutdown.connect
def _close_provider_connections(**kwargs) -> None:
    registry.close()
