from django.apps import AppConfig


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = "Templates"

    def ready(self) -> None:
        from . import selectors  # noqa: F401  (connects the cache-clearing signal receivers)
