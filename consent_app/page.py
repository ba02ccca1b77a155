"""The hosted preference page's content: what it shows a user (the channel switches, categories × channels,
each category's kinds × channels, quiet hours, timezone) and how a submitted form becomes changes, through
the preference services."""

import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from kinds_app.models import Category
from kinds_app.selectors import category_get, kind_list
from preferences_app.categories import settings_get, settings_update
from preferences_app.services import preference_get_or_default, preference_update
from templates_app.models import NotificationType

from .models import ConsentSource
from .tokens import LinkToken

CHANNELS = [(channel.value, channel.label) for channel in NotificationType]
TIMEZONES = sorted(zoneinfo.available_timezones())


# A kind's choice on a channel as the page's select sends it: the user's own on or off, or none (the kind
# follows its category, as a send decides).
KIND_CHOICES = {"": None, "on": True, "off": False}
KIND_CHOICE_WORDS = {"": "same as its topic", "on": "on", "off": "off"}


def kind_field(kind: str, channel: str) -> str:
    """The form field of a kind's choice on a channel (keys hold no ':', so no two fields share a name)."""
    return f"kind:{kind}:{channel}"


@dataclass(frozen=True)
class KindRow:
    key: str
    name: str
    description: str
    critical: bool  # sent whatever the user chose
    choices: dict[str, str]  # each channel the kind is sent on -> "on", "off" or "" (same as its topic)

    def cells(self) -> list[tuple[str, str, str, str | None]]:
        """(field, channel, label, choice) per page column; choice None where the kind is not sent."""
        return [(kind_field(self.key, channel), channel, label, self.choices.get(channel)) for channel, label in CHANNELS]


@dataclass(frozen=True)
class CategoryRow:
    key: str
    name: str
    description: str
    critical: bool  # every kind of it is critical: no switch would change what the user receives
    switches: dict[str, bool]  # channel -> whether its notifications reach the user
    kinds: tuple[KindRow, ...] = ()

    def cells(self) -> list[tuple[str, str, bool]]:
        """(channel, label, on) per channel, in the page's column order."""
        return [(channel, label, self.switches[channel]) for channel, label in CHANNELS]

    def kinds_chosen(self) -> int:
        """How many of its kinds carry a choice of the user's own (the page opens their list when any do)."""
        return sum(1 for kind in self.kinds if any(kind.choices.values()))


@dataclass(frozen=True)
class PageState:
    channels: dict[str, bool]
    categories: list[CategoryRow]
    quiet_hours_start: str
    quiet_hours_end: str
    timezone: str
    errors: dict[str, list[str]] = field(default_factory=dict)

    def channel_cells(self) -> list[tuple[str, str, bool]]:
        """(channel, label, on) per channel switch."""
        return [(channel, label, self.channels[channel]) for channel, label in CHANNELS]

    def kind_sections(self) -> list[CategoryRow]:
        """The categories whose kinds the user may choose one by one (any kind, in a category not all critical)."""
        return [row for row in self.categories if row.kinds and not row.critical]


def _hhmm(value: Any) -> str:
    return value.strftime("%H:%M") if value else ""


def page_state(*, user_id: int) -> PageState:
    """What the page shows: each category's effective switch per channel (the user's choice, else the channel
    switch and the category's default, as a send decides when no kind-level choice is made)."""
    preference = preference_get_or_default(user_id=user_id)
    chosen = settings_get(user_id=user_id)
    channels = {channel: preference.channel_enabled(channel) for channel, _ in CHANNELS}
    categories = Category.objects.annotate(
        kinds_count=Count("kinds"), critical_count=Count("kinds", filter=Q(kinds__critical=True))).order_by("name")
    rows = [CategoryRow(key=category.key, name=category.name, description=category.description,
                        critical=0 < category.kinds_count == category.critical_count,
                        switches={channel: chosen["categories"].get(category.key, {}).get(
                            channel, channels[channel] and category.enabled_by_default) for channel, _ in CHANNELS},
                        kinds=_kind_rows(chosen["kinds"]).get(category.key, ()))
            for category in categories]
    return PageState(channels=channels, categories=rows, quiet_hours_start=_hhmm(preference.quiet_hours_start),
                     quiet_hours_end=_hhmm(preference.quiet_hours_end), timezone=preference.timezone)


def _kind_rows(chosen: dict[str, dict[str, bool]]) -> dict[str, tuple[KindRow, ...]]:
    """Each category's kinds by name, with the user's own choice per channel the kind is sent on."""
    words = {None: "", True: "on", False: "off"}
    rows: dict[str, list[KindRow]] = {}
    for kind in sorted(kind_list(), key=lambda kind: (kind.name.lower(), kind.key)):
        own = chosen.get(kind.key, {})
        rows.setdefault(kind.category.key, []).append(KindRow(
            key=kind.key, name=kind.name, description=kind.description, critical=kind.critical,
            choices={link.channel: words[own.get(link.channel)] for link in kind.channel_templates.all()}))
    return {key: tuple(kinds) for key, kinds in rows.items()}


def _described_changes(before: PageState, after: PageState) -> list[str]:
    """What a save changed, in words, for the page to confirm."""
    changes = [f"{label}: {'on' if after.channels[channel] else 'off'}" for channel, label in CHANNELS
               if before.channels[channel] != after.channels[channel]]
    for old, new in zip(before.categories, after.categories):
        changes += [f"{new.name} by {label.lower()}: {'on' if on else 'off'}" for channel, label, on in new.cells()
                    if old.switches[channel] != on]
        for old_kind, new_kind in zip(old.kinds, new.kinds):
            changes += [f"{new_kind.name} by {label.lower()}: {KIND_CHOICE_WORDS[choice]}"
                        for _, channel, label, choice in new_kind.cells()
                        if choice is not None and old_kind.choices.get(channel) != choice]
    if (before.quiet_hours_start, before.quiet_hours_end) != (after.quiet_hours_start, after.quiet_hours_end):
        changes.append(f"Quiet hours: {after.quiet_hours_start} to {after.quiet_hours_end}"
                       if after.quiet_hours_start else "Quiet hours: none")
    if before.timezone != after.timezone:
        changes.append(f"Timezone: {after.timezone}")
    return changes


@transaction.atomic
def page_save(*, user_id: int, form: Any) -> tuple[PageState, list[str]]:
    """Apply a submitted page (a QueryDict: checkboxes `channel-<channel>` and `<category>-<channel>`, present
    when on; selects `kind:<kind>:<channel>` of "on", "off" or "" for same as its category; `quiet_hours_start`,
    `quiet_hours_end` as HH:MM or blank; `timezone`). Only what differs from what the page showed is written,
    so an untouched category keeps following the channel switch, and an untouched kind its category.
    Returns the new state and the changes in words. Raises ValidationError naming the field."""
    before = page_state(user_id=user_id)
    timezone = form.get("timezone", before.timezone)
    if timezone not in TIMEZONES:
        raise ValidationError({"timezone": "Choose a timezone from the list."})
    kinds = _kind_choices(before, form)
    preference_update(
        user_id=user_id, source=ConsentSource.PREFERENCE_PAGE, timezone=timezone,
        quiet_hours_start=form.get("quiet_hours_start", "").strip() or None,
        quiet_hours_end=form.get("quiet_hours_end", "").strip() or None,
        **{f"{channel}_enabled": f"channel-{channel}" in form for channel, _ in CHANNELS})
    choices = {row.key: {channel: f"{row.key}-{channel}" in form for channel, _ in CHANNELS
                         if (f"{row.key}-{channel}" in form) != row.switches[channel]}
               for row in before.categories if not row.critical}
    choices = {key: switches for key, switches in choices.items() if switches}
    if choices or kinds:
        settings_update(user_id=user_id, categories=choices, kinds=kinds, source=ConsentSource.PREFERENCE_PAGE)
    after = page_state(user_id=user_id)
    return after, _described_changes(before, after)


def _kind_choices(before: PageState, form: Any) -> dict[str, dict[str, bool | None]]:
    """The kind choices a submitted page changes: kind -> {channel: on, off or None (same as its topic)}, for the
    selects that differ from what the page showed. Raises ValidationError naming a select with another value."""
    changed: dict[str, dict[str, bool | None]] = {}
    for row in before.categories:
        for kind in row.kinds if not row.critical else ():
            for field, channel, _, shown in kind.cells():
                if kind.critical or shown is None or field not in form or form[field] == shown:
                    continue
                if form[field] not in KIND_CHOICES:
                    raise ValidationError({field: f"{kind.name}: choose on, off or the same as its topic."})
                changed.setdefault(kind.key, {})[channel] = KIND_CHOICES[form[field]]
    return changed


def one_click_unsubscribe(*, link: LinkToken) -> str:
    """Turn the link's category off on its channel for its user; returns what was done, for the answer.
    Raises ValidationError when the link names no category (a page link) or one that is gone."""
    if not link.category or not link.channel:
        raise ValidationError("This link manages preferences; it does not unsubscribe from anything by itself.")
    try:
        category = category_get(key=link.category)
    except Category.DoesNotExist:
        raise ValidationError("What this link unsubscribes from no longer exists.") from None
    settings_update(user_id=link.user_id, categories={category.key: {link.channel: False}},
                    source=ConsentSource.ONE_CLICK)
    return f"You will no longer receive {category.name} notifications by {link.channel}."
