"""System check: every configured provider can be built, so a bad setting stops start-up, not a delivery."""

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from notification_channels import registry
from notification_channels.base import Channel


@checks.register("notification_providers", deploy=False)
def providers_are_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for channel in Channel:
        try:
            providers = registry.providers_for(channel)
        except ImproperlyConfigured as err:
            errors.append(checks.Error(str(err), hint="Fix NOTIFICATION_PROVIDERS (or EMAIL_* for email).",
                                       id="notifications.E001"))
            continue
        if not providers:
            errors.append(checks.Error(f"No provider is configured for {channel}.",
                                       hint="Name at least one in NOTIFICATION_PROVIDERS.", id="notifications.E002"))
    return errors


def _esp_webhook_problem() -> tuple[str, str] | None:
    """(ESP, why) when EMAIL_BACKEND is an anymail ESP whose tracking webhook would refuse every receipt."""
    from django.conf import settings

    from .webhooks import anymail_tracking_view, anymail_webhook_problem

    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if not backend.startswith("anymail.backends."):
        return None
    esp = backend.split(".")[2]
    view = anymail_tracking_view(esp)
    problem = anymail_webhook_problem(view) if view else None
    return (esp, problem) if problem else None


_WEBHOOK_HINT = ("Set ANYMAIL_WEBHOOK_SECRET (basic auth in the webhook URL) or the ESP's signing key; until then "
                 "its tracking webhook answers 404 and no delivery receipt or bounce reaches the log.")


@checks.register("notification_providers")
def esp_webhook_is_secured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    found = _esp_webhook_problem()
    if not found:
        return []
    return [checks.Warning(f"The {found[0]} tracking webhook is not secured: {found[1]}.", hint=_WEBHOOK_HINT,
                           id="notifications.W003")]


@checks.register("notification_providers", deploy=True)
def esp_webhook_is_secured_for_deploy(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    found = _esp_webhook_problem()
    if not found:
        return []
    return [checks.Error(f"The {found[0]} tracking webhook is not secured: {found[1]}.", hint=_WEBHOOK_HINT,
                         id="notifications.E003")]
