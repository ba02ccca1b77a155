"""Read queries on templates shared by the REST API, GraphQL and the admin."""

import hashlib
import unicodedata

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from kit.rowcache import RowCache

from .models import NotificationTemplate, NotificationType, TemplateVersion


def template_list(*, type: str | None = None, search: str | None = None) -> QuerySet[NotificationTemplate]:
    """Templates by name, optionally of one type and/or whose name contains `search`."""
    queryset = NotificationTemplate.objects.order_by("name")
    if type:
        if type not in NotificationType.values:
            raise ValidationError({"type": f"Must be one of: {', '.join(NotificationType.values)}."})
        queryset = queryset.filter(type=type)
    if search:
        queryset = queryset.filter(name__icontains=search)
    return queryset


def template_get(*, id: int | None = None, name: str | None = None) -> NotificationTemplate:
    """One template by id or name. Raises NotificationTemplate.DoesNotExist."""
    if id is not None:
        return NotificationTemplate.objects.get(pk=id)
    return NotificationTemplate.objects.get(name=name)


def template_version_list(*, template: NotificationTemplate) -> QuerySet[TemplateVersion]:
    """The template's kept versions, newest first (the REST API's versions list)."""
    return template.versions.order_by("-version")


# Templates by name, read on every send: kept in the shared cache, cleared when one is saved or deleted ---------

TEMPLATE_CACHE_SECONDS = 300
# Keyed by a hash of the name, so any name (any length, any characters) makes a valid cache key.
_TEMPLATES = RowCache(NotificationTemplate, name="template:by-name", seconds=TEMPLATE_CACHE_SECONDS,
                      key=lambda name: hashlib.sha1(name.encode()).hexdigest())


def template_cache_key(name: str) -> str:
    return _TEMPLATES.key(unicodedata.normalize("NFKC", name))


def template_get_by_name(*, name: str) -> NotificationTemplate | None:
    """The template named `name` (in NFKC, as names are stored), or None, read through the shared cache (saves
    and deletes clear it)."""
    name = unicodedata.normalize("NFKC", name)
    return _TEMPLATES.read_through(name, lambda: NotificationTemplate.objects.filter(name=name).first())


@receiver(pre_save, sender=NotificationTemplate)
def _template_saving(sender, instance: NotificationTemplate, **kwargs) -> None:
    old = NotificationTemplate.objects.filter(pk=instance.pk).values_list("name", flat=True).first() if instance.pk else None
    _TEMPLATES.forget({name for name in (instance.name, old) if name})


@receiver(post_save, sender=NotificationTemplate)
@receiver(post_delete, sender=NotificationTemplate)
def _template_changed(sender, instance: NotificationTemplate, **kwargs) -> None:
    _TEMPLATES.forget([instance.name])
