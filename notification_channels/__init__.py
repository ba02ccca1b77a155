"""Delivery adapters for email, SMS and push, and the providers behind them.

Plain Python: imports nothing from the Django apps. Callers use
``notification_channels.registry`` (``validate``, ``deliver``) and the types in ``notification_channels.base``.
"""

from notification_channels.base import (
    Channel,
    ChannelError,
    DeliveryResult,
    InvalidRecipient,
    Message,
    PermanentError,
    Provider,
    TransientError,
)

__all__ = [
    "Channel",
    "ChannelError",
    "DeliveryResult",
    "InvalidRecipient",
    "Message",
    "PermanentError",
    "Provider",
    "TransientError",
]
