from django.apps import AppConfig


class ConsentAppConfig(AppConfig):
    name = "consent_app"
    verbose_name = "Consent and deliverability"

    def ready(self) -> None:
        from . import receivers, records  # noqa: F401  (connect the ESP tracking and preference receivers)
