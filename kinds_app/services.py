"""Business operations on categories and kinds: create, change, delete, preview."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from templates_app.models import NotificationTemplate, NotificationType
from templates_app.rendering import RenderedMessage
from templates_app.services import example_context, template_render

from .models import Category, KindTemplate, NotificationKind

CATEGORY_FIELDS = ("key", "name", "description", "enabled_by_default")
KIND_FIELDS = ("key", "name", "description", "category", "critical", "templates")


def _unknown_fields(changes: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValidationError({field: "Unknown field." for field in unknown})


# Categories ------------------------------------------------------------------------------------

def category_create(*, key: str, name: str, description: str = "", enabled_by_default: bool = True) -> Category:
    """Create a category. Raises ValidationError naming the field (a taken or malformed key)."""
    category = Category(key=key, name=name, description=description, enabled_by_default=enabled_by_default)
    category.full_clean()
    category.save()
    return category


def category_update(*, category: Category, **changes: Any) -> Category:
    """Change any of key, name, description, enabled_by_default. Raises ValidationError."""
    _unknown_fields(changes, CATEGORY_FIELDS)
    for field, value in changes.items():
        setattr(category, field, value)
    category.full_clean()
    category.save()
    return category


def category_delete(*, category: Category) -> None:
    """Delete a category that no kind belongs to. Raises ValidationError naming the kinds that still do."""
    keys = list(category.kinds.order_by("key").values_list("key", flat=True)[:6])
    if keys:
        shown = ", ".join(keys[:5]) + (", ..." if len(keys) > 5 else "")
        raise ValidationError({"category": f"Kinds still belong to '{category.key}' ({shown}): move or delete them first."})
    category.delete()


# Kinds -----------------------------------------------------------------------------------------

def _category(ref: Category | str) -> Category:
    if isinstance(ref, Category):
        return ref
    category = Category.objects.filter(key=ref).first() if isinstance(ref, str) else None
    if category is None:
        raise ValidationError({"category": f"No category with the key {ref!r}."})
    return category


def _channel_templates(templates: Any) -> dict[str, NotificationTemplate]:
    """channel -> template, from channel -> template (or its id); a null drops the channel.

    Raises ValidationError naming `templates.<channel>`: an unknown channel, no such template, a
    template of another channel's type, or no channel at all.
    """
    if not isinstance(templates, Mapping):
        raise ValidationError({"templates": "Must be an object of channel -> template id."})
    errors: dict[str, str] = {}
    resolved: dict[str, NotificationTemplate] = {}
    for channel, ref in templates.items():
        field = f"templates.{channel}"
        if channel not in NotificationType.values:
            errors[field] = f"Not a channel; one of: {', '.join(NotificationType.values)}."
            continue
        if ref is None:
            continue
        if isinstance(ref, NotificationTemplate):
            template = ref
        elif isinstance(ref, int) and not isinstance(ref, bool):
            template = NotificationTemplate.objects.filter(pk=ref).first()
        else:
            errors[field] = "Must be a template id."
            continue
        if template is None:
            errors[field] = f"No template with the id {ref}."
        elif template.type != channel:
            errors[field] = f"Template '{template.name}' is a {template.type} template, not {channel}."
        else:
            resolved[channel] = template
    if not errors and not resolved:
        errors["templates"] = "A kind needs a template for at least one channel."
    if errors:
        raise ValidationError(errors)
    return resolved


def _set_templates(kind: NotificationKind, templates: dict[str, NotificationTemplate]) -> None:
    kind.channel_templates.exclude(channel__in=list(templates)).delete()
    for channel, template in templates.items():
        KindTemplate.objects.update_or_create(kind=kind, channel=channel, defaults={"template": template})


def _collecting(errors: dict[str, list[str]], check: Any, *args: Any, **kwargs: Any) -> Any:
    """check(*args, **kwargs), or None with its field errors added to `errors` (to report all at once)."""
    try:
        return check(*args, **kwargs)
    except ValidationError as err:
        errors.update(err.message_dict)
        return None


@transaction.atomic
def kind_create(*, key: str, name: str, category: Category | str, templates: Mapping[str, Any],
                critical: bool = False, description: str = "") -> NotificationKind:
    """Create a kind with one template per channel it sends on (channel -> template or template id).

    Raises ValidationError naming the field: a taken or malformed key, an unknown category, a
    template that does not exist or is for another channel, no channel at all.
    """
    errors: dict[str, list[str]] = {}
    category = _collecting(errors, _category, category)
    channel_templates = _collecting(errors, _channel_templates, templates)
    kind = NotificationKind(key=key, name=name, description=description, critical=critical, category=category)
    _collecting(errors, kind.full_clean, exclude=["category"])
    if errors:
        raise ValidationError(errors)
    kind.save()
    _set_templates(kind, channel_templates)
    return kind


@transaction.atomic
def kind_update(*, kind: NotificationKind, **changes: Any) -> NotificationKind:
    """Change any of key, name, description, category, critical, templates (which replaces the whole set).

    Raises ValidationError as kind_create does.
    """
    _unknown_fields(changes, KIND_FIELDS)
    templates = _channel_templates(changes.pop("templates")) if "templates" in changes else None
    if "category" in changes:
        changes["category"] = _category(changes["category"])
    for field, value in changes.items():
        setattr(kind, field, value)
    kind.full_clean()
    kind.save()
    if templates is not None:
        _set_templates(kind, templates)
    return kind


def kind_delete(*, kind: NotificationKind) -> None:
    """Delete a kind; its templates stay, and logs sent for it keep their text."""
    kind.delete()


def kind_example_context(kind: NotificationKind) -> dict[str, Any]:
    """One sample context for every channel: the example values of all the kind's templates."""
    context: dict[str, Any] = {}
    for link in kind.channel_templates.all():
        context.update(example_context(link.template))
    return context


def kind_preview(*, kind: NotificationKind, context: Mapping[str, Any] | None = None
                 ) -> dict[str, RenderedMessage | ValidationError]:
    """Each channel's message rendered with one context (the kind's examples when none is given).

    A channel whose template cannot render with it answers the ValidationError instead of a message.
    """
    if context is None:
        context = kind_example_context(kind)
    previews: dict[str, RenderedMessage | ValidationError] = {}
    for link in kind.channel_templates.select_related("template").order_by("channel"):
        try:
            previews[link.channel] = template_render(template=link.template, context=context)
        except ValidationError as err:
            previews[link.channel] = err
    return previews
