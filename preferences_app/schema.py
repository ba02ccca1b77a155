"""GraphQL types, inputs and resolvers for a user's preferences."""

import datetime as dt

import strawberry
import strawberry_django
from django.core.exceptions import ValidationError

from templates_app.schema import NotificationType

from . import categories, models, services


def _time_of_day(value: dt.time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _quiet_hours_start(root: strawberry.Parent[models.UserPreference]) -> str | None:
    return _time_of_day(root.quiet_hours_start)


def _quiet_hours_end(root: strawberry.Parent[models.UserPreference]) -> str | None:
    return _time_of_day(root.quiet_hours_end)


def _phone_number(root: strawberry.Parent[models.UserPreference]) -> str | None:
    return root.phone_number.as_e164 if root.phone_number else None


@strawberry.type(description="A user's choice for one channel of a category or of one kind.")
class NotificationSetting:
    category: str | None = strawberry.field(description="The category's key, when the choice is for a category.")
    kind: str | None = strawberry.field(description="The kind's key, when the choice is for a kind.")
    channel: NotificationType
    enabled: bool


def _settings_of(user_id: int) -> list[NotificationSetting]:
    chosen = categories.settings_get(user_id=user_id)
    return [NotificationSetting(category=key if section == "categories" else None,
                                kind=key if section == "kinds" else None,
                                channel=NotificationType(channel), enabled=enabled)
            for section in ("categories", "kinds") for key, switches in chosen[section].items()
            for channel, enabled in switches.items()]


def _notification_settings(root: strawberry.Parent[models.UserPreference]) -> list[NotificationSetting]:
    return _settings_of(root.user_id)


@strawberry_django.type(models.UserPreference,
                        description="What a user accepts, when (quiet hours, local time), and where to reach them.")
class UserPreference:
    id: int
    user_id: int
    email_enabled: bool
    sms_enabled: bool
    push_enabled: bool
    in_app_enabled: bool
    quiet_hours_start: str | None = strawberry_django.field(
        resolver=_quiet_hours_start, description='Start of quiet hours as "HH:MM" local time, or null.'
    )
    quiet_hours_end: str | None = strawberry_django.field(
        resolver=_quiet_hours_end, description='End of quiet hours as "HH:MM" local time, or null.'
    )
    timezone: str = strawberry_django.field(description="IANA name; quiet hours are wall-clock times here.")
    email: str
    phone_number: str | None = strawberry_django.field(resolver=_phone_number, description="E.164, or null.")
    created_at: dt.datetime
    updated_at: dt.datetime
    notification_settings: list[NotificationSetting] = strawberry_django.field(
        resolver=_notification_settings,
        description="Choices per category and per kind; the most specific wins: kind, category, channel switch.")


@strawberry.input(description="The preferences to change; an omitted field keeps its value.")
class UserPreferenceUpdateInput:
    email_enabled: bool | None = strawberry.UNSET
    sms_enabled: bool | None = strawberry.UNSET
    push_enabled: bool | None = strawberry.UNSET
    in_app_enabled: bool | None = strawberry.UNSET
    quiet_hours_start: str | None = strawberry.field(
        default=strawberry.UNSET, description='Start of quiet hours as "HH:MM"; set both ends, or null both to clear.'
    )
    quiet_hours_end: str | None = strawberry.field(
        default=strawberry.UNSET, description='End of quiet hours as "HH:MM".'
    )
    timezone: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone_number: str | None = strawberry.UNSET


def user_preferences(user_id: int) -> UserPreference:
    """A user's preferences; a user seen for the first time gets the defaults (all channels on)."""
    return services.preference_get_or_create(user_id=user_id)


def update_user_preferences(user_id: int, input: UserPreferenceUpdateInput) -> UserPreference:
    """Change some of a user's preferences (creating them if needed)."""
    changes = {field: value for field, value in vars(input).items() if value is not strawberry.UNSET}
    # An unknown contact point is stored blank, not null: null here clears it.
    for field in ("email", "phone_number"):
        if field in changes and changes[field] is None:
            changes[field] = ""
    return services.preference_update(user_id=user_id, source="graphql", **changes)


@strawberry.input(description="One choice: a category or a kind (exactly one), a channel, and on, off or null "
                              "(forget the choice, so the next rule decides).")
class NotificationSettingInput:
    channel: NotificationType
    enabled: bool | None
    category: str | None = None
    kind: str | None = None


def update_notification_settings(user_id: int, settings: list[NotificationSettingInput]) -> list[NotificationSetting]:
    """Set a user's choices per category or kind and channel; answers all their choices."""
    chosen: dict[str, dict[str, dict[str, bool | None]]] = {"categories": {}, "kinds": {}}
    for index, entry in enumerate(settings):
        if (entry.category is None) == (entry.kind is None):
            raise ValidationError({f"settings.{index}": "Name either a category or a kind."})
        section, key = ("categories", entry.category) if entry.category is not None else ("kinds", entry.kind)
        chosen[section].setdefault(key, {})[entry.channel.value] = entry.enabled
    categories.settings_update(user_id=user_id, source="graphql", **chosen)
    return _settings_of(user_id)
