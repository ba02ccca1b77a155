"""Celery tasks of webhook delivery, registered under the names webhooks_app.dispatch publishes them by."""

from celery import shared_task

from .dispatch import DELIVER_TASK, SWEEP_TASK, events_sweep_due


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_webhook_events(event_ids: list[int]) -> dict[str, int]:
    """Deliver the due events among `event_ids`; delivered, leased or not yet due ones are skipped."""
    # Imported here: web processes register this task but never run it (outside the embedded default), so
    # they need not load the HTTP client stack (httpx, httpcore and the async libraries it finds installed).
    from .delivery import events_deliver

    return events_deliver(event_ids=event_ids)


@shared_task(name=SWEEP_TASK, ignore_result=True)
def sweep_webhook_events() -> int:
    """Queue events whose retry is due or whose queue message was lost."""
    return events_sweep_due()
