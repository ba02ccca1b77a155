from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    verbose_name = "Delivery log"

    def ready(self) -> None:
        from . import checks, webhooks  # noqa: F401  (registers the provider check, connects the tracking receiver)
