from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    verbose_name = "Delivery log"

    def ready(self) -> None:
        from . import webhooks  # noqa: F401  (connects the anymail tracking receiver)
