"""Read queries on templates shared by the REST API, GraphQL and the admin."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

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
