from django.apps import AppConfig


class KindsAppConfig(AppConfig):
    name = "kinds_app"
    verbose_name = "Kinds and categories"
