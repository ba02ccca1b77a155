"""A user's choices per category and per kind, and the rule that decides whether a kind reaches a channel.

The most specific choice wins: the kind's, then its category's, then the plain channel switch, then
the category's default (`enabled_by_default`, the operator's). A critical kind ignores every opt-out.
"""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q

from kinds_app.models import Category, NotificationKind
from kit.lookups import AnyOf
from templates_app.models import NotificationType

from .models import NotificationSetting, UserPreference
from .services import preference_get_or_create, validate_user_id
from .signals import send_changes

# Which of a kind's settings a user made: (level, channel) -> enabled; level is "kind" or "category".
KIND, CATEGORY = "kind", "category"
Choices = Mapping[tuple[str, str], bool]
LEVELS = {"categories": (CATEGORY, Category), "kinds": (KIND, NotificationKind)}


@dataclass(frozen=True)
class Decision:
    """Whether a kind goes out on a channel to a user, and the rule that decided (a suppression's reason)."""

    allowed: bool
    rule: str


def channel_decision(*, preference: UserPreference, kind: NotificationKind, channel: str, choices: Choices) -> Decision:
    """Whether `kind` reaches the user on `channel`, given the user's `choices` (see choices_for_users)."""
    if kind.critical:
        return Decision(True, f"Critical kind '{kind.key}': sent whatever the user turned off.")
    category = kind.category
    chosen = choices.get((KIND, channel))
    if chosen is not None:
        return Decision(chosen, f"The user turned {'on' if chosen else 'off'} {channel} for the kind '{kind.key}'.")
    chosen = choices.get((CATEGORY, channel))
    if chosen is not None:
        return Decision(chosen, f"The user turned {'on' if chosen else 'off'} {channel} for the category "
                                f"'{category.key}'.")
    if not preference.channel_enabled(channel):
        return Decision(False, f"The user turned off {channel} notifications.")
    if not category.enabled_by_default:
        return Decision(False, f"The category '{category.key}' is off unless the user turns it on.")
    return Decision(True, f"{channel} is on for the user.")


def choices_for_users(*, user_ids: Iterable[int], kind: NotificationKind) -> dict[int, dict[tuple[str, str], bool]]:
    """Each listed user's choices that bear on `kind` (its own and its category's), in one query."""
    rows = NotificationSetting.objects.filter(Q(kind=kind) | Q(category_id=kind.category_id),
                                              AnyOf(F("preference__user_id"), user_ids))
    choices: dict[int, dict[tuple[str, str], bool]] = {}
    for user_id, kind_id, channel, enabled in rows.values_list("preference__user_id", "kind_id", "channel", "enabled"):
        choices.setdefault(user_id, {})[(KIND if kind_id else CATEGORY, channel)] = enabled
    return choices


def settings_get(*, user_id: int) -> dict[str, dict[str, dict[str, bool]]]:
    """The user's choices: {"categories": {key: {channel: on}}, "kinds": {key: {channel: on}}}."""
    user_id = validate_user_id(user_id)
    result: dict[str, dict[str, dict[str, bool]]] = {"categories": {}, "kinds": {}}
    rows = NotificationSetting.objects.filter(preference__user_id=user_id).values_list(
        "category__key", "kind__key", "channel", "enabled").order_by("category__key", "kind__key", "channel")
    for category_key, kind_key, channel, enabled in rows:
        section, key = ("categories", category_key) if category_key else ("kinds", kind_key)
        result[section].setdefault(key, {})[channel] = enabled
    return result


def _targets(section: str, entries: Any) -> dict[Any, dict[str, bool | None]]:
    """Category or kind -> {channel: on, off or None (forget)}. Raises ValidationError naming `section.key`."""
    level, model = LEVELS[section]
    if not isinstance(entries, Mapping):
        raise ValidationError({section: f"Must be an object of {level} key -> {{channel: true, false or null}}."})
    found = {obj.key: obj for obj in model.objects.filter(key__in=[key for key in entries if isinstance(key, str)])}
    errors: dict[str, str] = {}
    targets: dict[Any, dict[str, bool | None]] = {}
    for key, switches in entries.items():
        field = f"{section}.{key}"
        if key not in found:
            errors[field] = f"No {level} with the key {key!r}."
        elif not isinstance(switches, Mapping):
            errors[field] = "Must be an object of channel -> true, false or null."
        else:
            for channel, on in switches.items():
                if channel not in NotificationType.values:
                    errors[f"{field}.{channel}"] = f"Not a channel; one of: {', '.join(NotificationType.values)}."
                elif not (on is None or isinstance(on, bool)):
                    errors[f"{field}.{channel}"] = "Must be true, false or null."
            targets[found[key]] = dict(switches)
    if errors:
        raise ValidationError(errors)
    return targets


def _flat(chosen: dict[str, dict[str, dict[str, bool]]]) -> dict[str, bool]:
    """settings_get's answer as {"categories.marketing.email": on}: the fields consent records name."""
    return {f"{section}.{key}.{channel}": on for section, entries in chosen.items()
            for key, switches in entries.items() for channel, on in switches.items()}


@contextmanager
def settings_changes_told(*, user_id: int, source: str) -> Iterator[None]:
    """Tell `preferences_changed` (with `source`) of every change of the user's choices made inside the block,
    by a door that writes the rows itself (the admin's inline form). Use inside a transaction."""
    before = _flat(settings_get(user_id=user_id))
    yield
    send_changes(user_id=user_id, source=source, before=before, after=_flat(settings_get(user_id=user_id)))


@transaction.atomic
def settings_update(*, user_id: int, categories: Any = None, kinds: Any = None, replace: bool = False,
                    source: str = "internal") -> dict[str, dict[str, dict[str, bool]]]:
    """Set the user's choices per category and per kind (creating their preferences if needed).

    Each entry is {channel: true | false | null}; null forgets the choice, so the next rule decides.
    With `replace`, every choice not given is forgotten too. Raises ValidationError naming
    `categories.<key>` or `kinds.<key>` for an unknown key, channel or value. Returns settings_get.
    Each choice made, changed or forgotten is told to `preferences_changed` with `source`.
    """
    errors: dict[str, list[str]] = {}
    targets: dict[Any, dict[str, bool | None]] = {}
    for section, entries in (("categories", categories), ("kinds", kinds)):
        if entries is None:
            continue
        try:
            targets.update(_targets(section, entries))
        except ValidationError as err:
            errors.update(err.message_dict)
    if errors:
        raise ValidationError(errors)
    preference = preference_get_or_create(user_id=user_id)
    before = _flat(settings_get(user_id=user_id))
    if replace:
        preference.notification_settings.all().delete()
    for target, switches in targets.items():
        where = {"category": target} if isinstance(target, Category) else {"kind": target}
        for channel, enabled in switches.items():
            if enabled is None:
                preference.notification_settings.filter(channel=channel, **where).delete()
            else:
                NotificationSetting.objects.update_or_create(preference=preference, channel=channel, **where,
                                                             defaults={"enabled": enabled})
    chosen = settings_get(user_id=user_id)
    send_changes(user_id=user_id, source=source, before=before, after=_flat(chosen))
    return chosen
