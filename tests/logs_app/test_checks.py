from django.core.management import call_command
from django.core.management.base import SystemCheckError
import pytest


def test_configured_providers_pass_the_check():
    call_command("check", tags=["notification_providers"])


def test_a_provider_missing_an_option_fails_the_check_at_start_up(settings):
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "sms": [
        {"BACKEND": "notification_channels.sms.TwilioSMSProvider", "OPTIONS": {"account_sid": "AC1"}}]}
    with pytest.raises(SystemCheckError, match="missing required option.*auth_token"):
        call_command("check", tags=["notification_providers"])


def test_a_channel_without_providers_fails_the_check(settings):
    settings.NOTIFICATION_PROVIDERS = {**settings.NOTIFICATION_PROVIDERS, "push": []}
    with pytest.raises(SystemCheckError, match="No provider is configured for push"):
        call_command("check", tags=["notification_providers"])
