"""What the management commands share: a send's context read from an option, and a refusal said as
CommandError (the same field and reason the APIs answer with, on one line)."""

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError


def context_option(text: str | None, *, example: Callable[[], dict[str, Any]]) -> Any:
    """The JSON given to `--context`, or `example()` when the option was left out. A JSON error is a
    CommandError naming the option; what the JSON holds is the service's to check."""
    if text is None:
        return example()
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CommandError(f"--context is not valid JSON: {err.msg} at column {err.colno}.") from None


def refused(err: ValidationError) -> CommandError:
    """A service's refusal as the command's error: `field: reason; field: reason`."""
    return CommandError("; ".join(f"{field}: {' '.join(messages)}" for field, messages in err.message_dict.items()))
