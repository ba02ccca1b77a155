from django.apps import AppConfig


class InboxAppConfig(AppConfig):
    name = "inbox_app"
    verbose_name = "In-app inbox"
    default_auto_field = "django.db.models.BigAutoField"
