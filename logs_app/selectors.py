"""Read queries on the delivery log shared by the REST API, GraphQL, the admin and the commands."""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from templates_app.models import NotificationType

from .models import NotificationLog, NotificationStatus


def log_list(*, user_id: int | None = None, status: str | None = None, type: str | None = None,
             created_after: dt.datetime | None = None, created_before: dt.datetime | None = None,
             ) -> QuerySet[NotificationLog]:
    """Logs, newest first, filtered by any of user, status, type and creation time (after <= t < before).

    Raises ValidationError for an unknown status or type.
    """
    errors = {}
    if status and status not in NotificationStatus.values:
        errors["status"] = f"Must be one of: {', '.join(NotificationStatus.values)}."
    if type and type not in NotificationType.values:
        errors["type"] = f"Must be one of: {', '.join(NotificationType.values)}."
    if errors:
        raise ValidationError(errors)
    queryset = NotificationLog.objects.order_by("-created_at", "-id")
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    if status:
        queryset = queryset.filter(status=status)
    if type:
        queryset = queryset.filter(type=type)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset


def log_get(*, id: int) -> NotificationLog:
    """One log. Raises NotificationLog.DoesNotExist."""
    return NotificationLog.objects.get(pk=id)
