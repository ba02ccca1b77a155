"""Read queries on templates shared by the REST API, GraphQL and the admin."""

import hashlib
import unicodedata

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from kit.cache import cached

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
_FIELDS = tuple(field.attname for field in NotificationTemplate._meta.concrete_fields)
# The field list is part of the key, so a deploy that changes the table never reads an old entry.
_KEY_PREFIX = f"template:by-name:{hashlib.sha1(','.join(_FIELDS).encode()).hexdigest()[:8]}:"


def template_cache_key(name: str) -> str:
    return _KEY_PREFIX + hashlib.sha1(unicodedata.normalize("NFKC", name).encode()).hexdigest()


def template_get_by_name(*, name: str) -> NotificationTemplate | None:
    """The template named `name` (in NFKC, as names are stored), or None, read through the shared cache (saves
    and deletes clear it)."""
    name = unicodedata.normalize("NFKC", name)
    values = cached(template_cache_key(name))
    if values is not None:
        return NotificationTemplate.from_db(DEFAULT_DB_ALIAS, _FIELDS, values)
    template = NotificationTemplate.objects.filter(name=name).first()
    if template is not None:
        cache.set(template_cache_key(name), [getattr(template, field) for field in _FIELDS], TEMPLATE_CACHE_SECONDS)
    return template


def _forget(names: set[str]) -> None:
    keys = [template_cache_key(name) for name in names if name]
    cache.delete_many(keys)
    # Again after commit: a send that read the old row in between must not leave it cached.
    transaction.on_commit(lambda: cache.delete_many(keys))


@receiver(pre_save, sender=NotificationTemplate)
def _template_saving(sender, instance: NotificationTemplate, **kwargs) -> None:
    old = NotificationTemplate.objects.filter(pk=instance.pk).values_list("name", flat=True).first() if instance.pk else None
    _forget({instance.name, old})


@receiver(post_save, sender=NotificationTemplate)
@receiver(post_delete, sender=NotificationTemplate)
def _template_changed(sender, instance: NotificationTemplate, **kwargs) -> None:
    _forget({instance.name})
