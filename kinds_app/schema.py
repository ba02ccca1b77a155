"""GraphQL types, inputs and resolvers for categories and kinds."""

import datetime as dt

import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from strawberry import UNSET

from kit.graphql import PaginationInfo, PaginationInput, delete_found, page_of
from templates_app.schema import NotificationTemplate, NotificationType

from . import models, selectors, services

CRITICAL_HELP = "Reaches users who opted out of its category or channel (quiet hours still apply)."
DEFAULT_HELP = "Whether a user who never chose for this category receives its kinds."


@strawberry_django.type(models.Category, description="A group of kinds a user may turn off as a whole.")
class NotificationCategory:
    id: int
    key: str
    name: str
    description: str
    enabled_by_default: bool = strawberry_django.field(description=DEFAULT_HELP)
    created_at: dt.datetime
    updated_at: dt.datetime


@strawberry.type(description="The template a kind sends on one channel.")
class KindChannelTemplate:
    channel: NotificationType
    template: NotificationTemplate


def _templates(root: strawberry.Parent[models.NotificationKind]) -> list[KindChannelTemplate]:
    return [KindChannelTemplate(channel=NotificationType(link.channel), template=link.template)
            for link in root.channel_templates.all()]


@strawberry_django.type(models.NotificationKind,
                        description="One kind of message (`order_shipped`), sent on every channel it has a template for.")
class NotificationKind:
    id: int
    key: str
    name: str
    description: str
    category: NotificationCategory
    critical: bool = strawberry_django.field(description=CRITICAL_HELP)
    templates: list[KindChannelTemplate] = strawberry_django.field(
        resolver=_templates, description="The template of each channel the kind sends on.")
    created_at: dt.datetime
    updated_at: dt.datetime


@strawberry.type(description="One page of categories.")
class NotificationCategoryList:
    items: list[NotificationCategory]
    pagination: PaginationInfo


@strawberry.type(description="One page of kinds.")
class NotificationKindList:
    items: list[NotificationKind]
    pagination: PaginationInfo


@strawberry.input
class NotificationCategoryCreateInput:
    key: str
    name: str
    description: str | None = None
    enabled_by_default: bool | None = strawberry.field(default=True, description=DEFAULT_HELP)


@strawberry.input(description="The fields to change; an omitted field keeps its value.")
class NotificationCategoryUpdateInput:
    key: str | None = UNSET
    name: str | None = UNSET
    description: str | None = UNSET
    enabled_by_default: bool | None = UNSET


@strawberry.input(description="The template (by id) a kind sends on one channel.")
class KindTemplateInput:
    channel: NotificationType
    template_id: int


@strawberry.input
class NotificationKindCreateInput:
    key: str
    name: str
    category: str = strawberry.field(description="The key of an existing category.")
    templates: list[KindTemplateInput] = strawberry.field(description="At least one channel's template.")
    critical: bool | None = strawberry.field(default=False, description=CRITICAL_HELP)
    description: str | None = None


@strawberry.input(description="The fields to change; an omitted field keeps its value.")
class NotificationKindUpdateInput:
    key: str | None = UNSET
    name: str | None = UNSET
    category: str | None = UNSET
    templates: list[KindTemplateInput] | None = strawberry.field(
        default=UNSET, description="Replaces the whole set of channel templates.")
    critical: bool | None = UNSET
    description: str | None = UNSET


def _channel_templates(templates: list[KindTemplateInput]) -> dict[str, int]:
    """channel -> template id. Raises ValidationError when a channel is named twice."""
    by_channel: dict[str, int] = {}
    for entry in templates:
        channel = entry.channel.value
        if channel in by_channel:
            raise ValidationError({"templates": f"The {channel} channel is named more than once."})
        by_channel[channel] = entry.template_id
    return by_channel


def _changes(input: object) -> dict[str, object]:
    """The fields an update input sets; null for a field that cannot be null is a field error."""
    changes = {field: value for field, value in vars(input).items() if value is not UNSET}
    nulls = sorted(field for field, value in changes.items() if value is None and field != "description")
    if nulls:
        raise ValidationError({field: "May not be null; omit it to keep its value." for field in nulls})
    if changes.get("description", "") is None:
        changes["description"] = ""
    return changes


# Resolvers -------------------------------------------------------------------------------------

def notification_categories(pagination: PaginationInput | None = None) -> NotificationCategoryList:
    """Categories by key, one page at a time."""
    page = page_of(selectors.category_list(), pagination)
    return NotificationCategoryList(items=list(page.items), pagination=PaginationInfo.from_page(page))


def notification_kinds(pagination: PaginationInput | None = None, category: str | None = None) -> NotificationKindList:
    """Kinds by key, one page at a time, optionally of one category (its key)."""
    page = page_of(selectors.kind_list(category=category), pagination)
    return NotificationKindList(items=list(page.items), pagination=PaginationInfo.from_page(page))


def notification_kind(id: int | None = None, key: str | None = None) -> NotificationKind | None:
    """One kind by id or key, or null when there is none."""
    if (id is None) == (key is None):
        raise ValidationError({"id": "Give either id or key."})
    try:
        return selectors.kind_get(id=id, key=key)
    except models.NotificationKind.DoesNotExist:
        return None


def create_notification_category(input: NotificationCategoryCreateInput) -> NotificationCategory:
    """Create a category."""
    return services.category_create(
        key=input.key, name=input.name, description=input.description or "",
        enabled_by_default=True if input.enabled_by_default is None else input.enabled_by_default)


def update_notification_category(id: int, input: NotificationCategoryUpdateInput) -> NotificationCategory | None:
    """Change a category. Null when there is none with this id."""
    try:
        category = selectors.category_get(id=id)
    except models.Category.DoesNotExist:
        return None
    return services.category_update(category=category, **_changes(input))


def delete_notification_category(id: int) -> bool:
    """Delete a category no kind belongs to. False when there is none with this id."""
    return delete_found(lambda: selectors.category_get(id=id),
                        lambda category: services.category_delete(category=category),
                        missing=models.Category.DoesNotExist)


def create_notification_kind(input: NotificationKindCreateInput) -> NotificationKind:
    """Create a kind with a template per channel."""
    kind = services.kind_create(
        key=input.key, name=input.name, category=input.category, templates=_channel_templates(input.templates),
        critical=bool(input.critical), description=input.description or "")
    return selectors.kind_get(id=kind.id)


def update_notification_kind(id: int, input: NotificationKindUpdateInput) -> NotificationKind | None:
    """Change a kind; `templates` replaces the whole set. Null when there is none with this id."""
    try:
        kind = selectors.kind_get(id=id)
    except models.NotificationKind.DoesNotExist:
        return None
    changes = _changes(input)
    if "templates" in changes:
        changes["templates"] = _channel_templates(changes["templates"])
    services.kind_update(kind=kind, **changes)
    return selectors.kind_get(id=id)


def delete_notification_kind(id: int) -> bool:
    """Delete a kind; its templates stay. False when there is none with this id."""
    return delete_found(lambda: selectors.kind_get(id=id), lambda kind: services.kind_delete(kind=kind),
                        missing=models.NotificationKind.DoesNotExist)
