from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    verbose_name = "Delivery log"

    def ready(self) -> None:
        # checks registers the provider check; webhooks connects the tracking receiver; tasks registers the
        # Celery tasks the pipeline publishes by name (run in process when there is no broker); the rollup
        # counts every change of status in its transaction.
        from kit.metrics import scrape_collector_add

        from . import checks, rollup, tasks, webhooks  # noqa: F401
        from .metrics import QueueLagCollector

        rollup.connect_signals()
        scrape_collector_add(QueueLagCollector())
