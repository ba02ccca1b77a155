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
