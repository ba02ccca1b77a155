from django.apps import AppConfig


class NotificationsProjectConfig(AppConfig):
    name = "notifications_project"
    verbose_name = "Notification service"
