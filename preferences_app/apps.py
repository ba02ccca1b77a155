from django.apps import AppConfig


class PreferencesAppConfig(AppConfig):
    name = "preferences_app"
    verbose_name = "Preferences"
