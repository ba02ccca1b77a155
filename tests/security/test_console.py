"""The console providers and mail backend print no message content (login codes) or whole addresses unless
CONSOLE_PROVIDERS_SHOW_CONTENT (DEBUG by default) allows it."""

import io

import pytest
from django.core import mail
from django.test import override_settings

from notification_channels.base import Channel, Message
from notification_channels.console import EmailBackend
from notification_channels.push import ConsolePushProvider
from notification_channels.sms import ConsoleSMSProvider

CODE = "login code 480913"
PHONE = "+4915112345678"
TOKEN = "a1" * 32


def printed(provider_class, message: Message, **options) -> str:
    stream = io.StringIO()
    provider_class(stream=stream, **options).send(message)
    return stream.getvalue()


SMS = Message(Channel.SMS, PHONE, f"Your {CODE}", reference="42")
PUSH = Message(Channel.PUSH, TOKEN, f"Your {CODE}", subject="Sign in", platform="ios", reference="43")


@pytest.mark.parametrize(("provider_class", "message", "to"), [
    (ConsoleSMSProvider, SMS, PHONE), (ConsolePushProvider, PUSH, TOKEN)])
def test_with_debug_off_console_providers_withhold_content(settings, provider_class, message, to):
    settings.DEBUG = False
    del settings.CONSOLE_PROVIDERS_SHOW_CONTENT  # the default follows DEBUG
    output = printed(provider_class, message)
    assert CODE not in output and to not in output
    assert to[-4:] in output and f"[{message.reference}]" in output and "content withheld" in output


@pytest.mark.parametrize(("provider_class", "message"), [(ConsoleSMSProvider, SMS), (ConsolePushProvider, PUSH)])
def test_the_setting_or_the_option_shows_content(settings, provider_class, message):
    settings.CONSOLE_PROVIDERS_SHOW_CONTENT = True
    assert CODE in printed(provider_class, message)
    settings.CONSOLE_PROVIDERS_SHOW_CONTENT = False
    assert CODE not in printed(provider_class, message)
    assert CODE in printed(provider_class, message, show_content=True)


def test_the_console_mail_backend_withholds_content_too(settings):
    settings.CONSOLE_PROVIDERS_SHOW_CONTENT = False
    stream = io.StringIO()
    with override_settings(EMAIL_BACKEND="notification_channels.console.EmailBackend"):
        connection = mail.get_connection(stream=stream)
        mail.EmailMessage(f"Your {CODE}", f"Body {CODE}", "from@example.com", ["ada@example.com"],
                          connection=connection, headers={"X-Notification-Id": "44"}).send()
    output = stream.getvalue()
    assert CODE not in output and "ada@example.com" not in output and ".com [44]" in output
    settings.CONSOLE_PROVIDERS_SHOW_CONTENT = True
    stream = io.StringIO()
    EmailBackend(stream=stream).send_messages([mail.EmailMessage("Hi", f"Body {CODE}", "f@example.com",
                                                                 ["ada@example.com"])])
    assert CODE in stream.getvalue()


def test_the_default_mail_backend_withholds_and_is_still_called_console():
    from notification_channels.email import backend_short_name
    from notifications_project import settings as project_settings

    assert project_settings.EMAIL_BACKEND == "notification_channels.console.EmailBackend"
    assert backend_short_name(project_settings.EMAIL_BACKEND) == "console"
