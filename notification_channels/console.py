"""What the console providers (and the console mail backend) may write: a message's content only where
CONSOLE_PROVIDERS_SHOW_CONTENT allows it (by default, with DEBUG on); otherwise who it went to, masked, and its
size, so a server running without real providers never prints login codes or personal data to its output."""

from __future__ import annotations

from django.conf import settings
from django.core.mail.backends import console


def content_shown(option: bool | None = None) -> bool:
    """Whether a console provider writes content: its own `show_content` option, else the setting, else DEBUG."""
    if option is not None:
        return option
    return bool(getattr(settings, "CONSOLE_PROVIDERS_SHOW_CONTENT", settings.DEBUG))


def masked(address: str) -> str:
    """An address with all but its last four characters hidden."""
    return f"…{address[-4:]}" if len(address) > 4 else "…"


def withheld(what: str, to: list[str], size: int, reference: str = "") -> str:
    """The line written instead of a message whose content is not shown."""
    reference = f" [{reference}]" if reference else ""
    return (f"{what} to {', '.join(masked(address) for address in to)}{reference}: content withheld ({size} "
            f"characters; CONSOLE_PROVIDERS_SHOW_CONTENT is off)")


class EmailBackend(console.EmailBackend):
    """Django's console mail backend (the embedded default's EMAIL_BACKEND), withholding content like the
    console providers."""

    def write_message(self, message) -> None:
        if content_shown():
            super().write_message(message)
            return
        size = len(message.subject or "") + len(message.body or "")
        reference = message.extra_headers.get("X-Notification-Id", "")
        self.stream.write(f"{withheld('Email', list(message.recipients()), size, reference)}\n{'-' * 79}\n")
