from django.apps import AppConfig


class PreferencesAppConfig(AppConfig):
    name = "preferences_app"
    verbose_name = "Preferences"

    def ready(self) -> None:
        from . import selectors  # noqa: F401  (connects the cache-clearing signal receivers)
