from django.apps import AppConfig


class LogsAppConfig(AppConfig):
    name = "logs_app"
    verbose_name = "Delivery log"
