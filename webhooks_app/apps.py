from django.apps import AppConfig


class WebhooksAppConfig(AppConfig):
    name = "webhooks_app"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        # The outbox listens to the pipeline's changes of status; tasks registers the Celery tasks that
        # dispatch publishes by name (run in process when there is no broker).
        from kit.ratelimit import read_ahead_source_add
        from logs_app.models import NotificationLog
        from logs_app.pipeline.events import logs_changed

        from . import tasks  # noqa: F401
        from .outbox import endpoints_read_ahead, outbox_write

        logs_changed.connect(outbox_write, sender=NotificationLog, dispatch_uid="webhooks_app.outbox")
        # The API key's endpoints ride along with the rate limiter's round trip: a send reads no more.
        read_ahead_source_add(endpoints_read_ahead)
