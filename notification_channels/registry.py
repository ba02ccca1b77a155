"""The channel registry: builds providers from settings once per process, validates and delivers messages.

Settings::

    NOTIFICATION_PROVIDERS = {
        "email": [{"BACKEND": "notification_channels.email.DjangoMailProvider", "OPTIONS": {}}],
        "sms": [{"BACKEND": "notification_channels.sms.ConsoleSMSProvider", "OPTIONS": {}}],
        "push": [{"BACKEND": "notification_channels.push.ConsolePushProvider", "OPTIONS": {}}],
        "in_app": [{"BACKEND": "inbox_app.provider.FeedProvider", "OPTIONS": {}}],
    }

Each list is the failover order. An entry's ``RATE`` (messages per second) paces that
provider across every worker process (pacing.py). ``NOTIFICATION_SMS_MAX_SEGMENTS``
(default 10) caps SMS length.
"""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from notification_channels.base import Channel, ChannelAdapter, DeliveryResult, Message, Provider, ProviderCall
from notification_channels.email import EmailAdapter
from notification_channels.in_app import InAppAdapter
from notification_channels.pacing import Pace
from notification_channels.push import PushAdapter
from notification_channels.sms import SMSAdapter

# Adding a channel means a new module with its adapter and one line here.
ADAPTERS: dict[Channel, type[ChannelAdapter]] = {
    Channel.EMAIL: EmailAdapter,
    Channel.SMS: SMSAdapter,
    Channel.PUSH: PushAdapter,
    Channel.IN_APP: InAppAdapter,
}

DEFAULT_PROVIDERS: dict[str, list[dict[str, Any]]] = {
    Channel.EMAIL: [{"BACKEND": "notification_channels.email.DjangoMailProvider", "OPTIONS": {}}],
    Channel.SMS: [{"BACKEND": "notification_channels.sms.ConsoleSMSProvider", "OPTIONS": {}}],
    Channel.PUSH: [{"BACKEND": "notification_channels.push.ConsolePushProvider", "OPTIONS": {}}],
    Channel.IN_APP: [{"BACKEND": "notification_channels.in_app.MemoryFeedProvider", "OPTIONS": {}}],
}

_adapters: dict[Channel, ChannelAdapter] = {}
_lock = threading.Lock()


def _build_provider(channel: Channel, index: int, config: Any) -> Provider:
    where = f"NOTIFICATION_PROVIDERS[{channel.value!r}][{index}]"
    if not isinstance(config, dict) or "BACKEND" not in config:
        raise ImproperlyConfigured(f"{where} must be a dict with a 'BACKEND' dotted path")
    try:
        provider_class = import_string(config["BACKEND"])
    except ImportError as err:
        raise ImproperlyConfigured(f"{where}: cannot import {config['BACKEND']!r}: {err}") from err
    if not (isinstance(provider_class, type) and issubclass(provider_class, Provider)):
        raise ImproperlyConfigured(f"{where}: {config['BACKEND']!r} is not a channels Provider")
    if provider_class.channel != channel:
        raise ImproperlyConfigured(
            f"{where}: {config['BACKEND']!r} is a {provider_class.channel} provider, not {channel}"
        )
    provider = provider_class(**(config.get("OPTIONS") or {}))
    if config.get("RATE") is not None:
        rate = config["RATE"]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 100_000:
            raise ImproperlyConfigured(f"{where}['RATE'] must be messages per second, a number above 0, not {rate!r}")
        provider.pace = Pace(key=f"{channel.value}:{index}:{provider.name}", rate=float(rate))
    return provider


def _build_adapter(channel: Channel) -> ChannelAdapter:
    configured = getattr(settings, "NOTIFICATION_PROVIDERS", None) or DEFAULT_PROVIDERS
    configs = configured.get(channel.value, [])
    providers = [_build_provider(channel, index, config) for index, config in enumerate(configs)]
    return ADAPTERS[channel](providers)


def adapter_for(channel: Channel | str) -> ChannelAdapter:
    """The channel's adapter with its providers, built on first use and cached for the process."""
    channel = Channel(channel)
    adapter = _adapters.get(channel)
    if adapter is None:
        with _lock:
            adapter = _adapters.get(channel)
            if adapter is None:
                adapter = _adapters[channel] = _build_adapter(channel)
    return adapter


def providers_for(channel: Channel | str) -> list[Provider]:
    """The channel's providers in failover order; ``ImproperlyConfigured`` on a bad setting."""
    return adapter_for(channel).providers


def validate(message: Message) -> None:
    """Accept-time checks: raises ``PermanentError``/``InvalidRecipient`` with a readable reason."""
    ADAPTERS[Channel(message.channel)].validate(message)


def deliver(message: Message, *, calls: list[ProviderCall] | None = None) -> DeliveryResult:
    """One pass over the channel's providers in order (failover on transient errors, none on permanent ones).

    Raises the last ``TransientError`` when every provider failed transiently
    (``retry_after`` is the soonest any provider asked for), or the first
    ``PermanentError``. Retrying with backoff is the caller's job. Each provider tried is appended
    to `calls` (a ``ProviderCall``: start, duration, outcome), when it is given.
    """
    return adapter_for(message.channel).send(message, calls=calls)


def open_all() -> None:
    """Build every channel's providers and open their clients now (a worker process at start), so that
    the first delivery does not pay for it; a provider that cannot be built is left to fail at send time,
    where its error is recorded on the log (``manage.py check`` reports it before that)."""
    for channel in ADAPTERS:
        try:
            for provider in providers_for(channel):
                provider.open()
        except ImproperlyConfigured:
            continue


def close() -> None:
    """Close every provider's pooled connections and forget the providers (worker shutdown, tests)."""
    with _lock:
        for adapter in _adapters.values():
            adapter.close()
        _adapters.clear()


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    # override_settings in tests must reach providers that were already built.
    if setting.startswith("NOTIFICATION_") or setting.startswith("EMAIL_"):
        close()
