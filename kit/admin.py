"""Small pieces the apps' admin pages share."""

import datetime as dt

from django.utils import timezone


def moment(value: dt.datetime | None) -> str:
    """A time as a list column shows it: short (2026-12-02 00:55), in the current time zone; "-" when unset."""
    return "-" if value is None else timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
