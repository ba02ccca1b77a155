from django.apps import AppConfig


class ConsentAppConfig(AppConfig):
    name = "consent_app"
    verbose_name = "Consent and deliverability"

    def ready(self) -> None:
        from templates_app.models import NotificationType
        from templates_app.provided import provided_variable_register

        from . import receivers, records  # noqa: F401  (connect the ESP tracking and preference receivers)
        from .tokens import preferences_url

        # Every email template may link to the recipient's preference page with `{{ preferences_url }}`.
        provided_variable_register(name="preferences_url", types=[NotificationType.EMAIL],
                                   value_for=lambda user_id: preferences_url(user_id=user_id),
                                   description="the recipient's hosted preference page")
