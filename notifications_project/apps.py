from django.apps import AppConfig


class NotificationsProjectConfig(AppConfig):
    name = "notifications_project"
    verbose_name = "Notification service"

    def ready(self) -> None:
        from kit import metrics

        metrics.connect_signals()
