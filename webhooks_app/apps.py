from django.apps import AppConfig


class WebhooksAppConfig(AppConfig):
    name = "webhooks_app"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        # The outbox listens to the pipeline's changes of status and to the inbox's marks; tasks registers
        # the Celery tasks that dispatch publishes by name (run in process when there is no broker).
        from inbox_app.events import feed_changed
        from inbox_app.models import FeedMessage
        from kit.ratelimit import read_ahead_source_add
        from kit.retention import retention_purge_add
        from logs_app.models import NotificationLog
        from logs_app.pipeline.events import logs_changed

        from . import tasks  # noqa: F401
        from .inbox_events import inbox_outbox_write
        from .outbox import endpoints_read_ahead, outbox_write
        from .retention import webhooks_purge_line

        logs_changed.connect(outbox_write, sender=NotificationLog, dispatch_uid="webhooks_app.outbox")
        feed_changed.connect(inbox_outbox_write, sender=FeedMessage, dispatch_uid="webhooks_app.inbox_outbox")
        # The API key's endpoints ride along with the rate limiter's round trip: a send reads no more.
        read_ahead_source_add(endpoints_read_ahead)
        # purge_logs (the nightly CronJob) deletes old finished events and their attempts too.
        retention_purge_add(webhooks_purge_line)
