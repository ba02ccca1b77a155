from django.apps import AppConfig


class ApiKeysAppConfig(AppConfig):
    name = "apikeys_app"
    verbose_name = "API keys"

    def ready(self) -> None:
        from kit.ratelimit import read_ahead_source_add

        from .authentication import api_key_read_ahead

        # The key's cache entry rides along with the rate limiter's round trip, so authenticating costs none.
        read_ahead_source_add(api_key_read_ahead)
