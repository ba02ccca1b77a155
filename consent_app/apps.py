from django.apps import AppConfig


class ConsentAppConfig(AppConfig):
    name = "consent_app"
    verbose_name = "Consent and deliverability"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects the ESP tracking receiver)
