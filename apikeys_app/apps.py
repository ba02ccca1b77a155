from django.apps import AppConfig


class ApiKeysAppConfig(AppConfig):
    name = "apikeys_app"
    verbose_name = "API keys"
