"""Read queries on the delivery log shared by the REST API, GraphQL, the admin and the commands."""

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone

from kit.pagination import DEFAULT_PAGE_SIZE, KeysetPage, paginate_keyset
from kit.replica import lagging_reads
from notification_channels import registry
from notification_channels.base import Channel
from templates_app.models import NotificationType

from .models import NotificationLog, NotificationStatus, ProviderCall
from .rollup import oldest_pending_hour, pending_count

# Newest first; unique together, so a cursor names exactly one place in the list.
LIST_ORDER = ("-created_at", "-id")


def log_list(*, user_id: int | None = None, status: str | None = None, type: str | None = None,
             created_after: dt.datetime | None = None, created_before: dt.datetime | None = None,
             trigger_id: uuid.UUID | str | None = None) -> QuerySet[NotificationLog]:
    """Logs, newest first, filtered by any of user, status, type, trigger and creation time (after <= t < before).

    Raises ValidationError for an unknown status or type.
    """
    errors = {}
    if status and status not in NotificationStatus.values:
        errors["status"] = f"Must be one of: {', '.join(NotificationStatus.values)}."
    if type and type not in NotificationType.values:
        errors["type"] = f"Must be one of: {', '.join(NotificationType.values)}."
    if errors:
        raise ValidationError(errors)
    queryset = NotificationLog.objects.order_by(*LIST_ORDER)
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    if status:
        queryset = queryset.filter(status=status)
    if type:
        queryset = queryset.filter(type=type)
    if trigger_id:
        queryset = queryset.filter(trigger_id=trigger_id)
    if created_after:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before:
        queryset = queryset.filter(created_at__lt=created_before)
    return queryset


def log_page(*, page: int = 1, size: int = DEFAULT_PAGE_SIZE, cursor: str | None = None,
             with_template: bool = False, **filters: Any) -> KeysetPage[NotificationLog]:
    """One page of `log_list(**filters)`, newest first, by page number or by the cursor of the page before
    (`with_template`: each log's template joined in the same query).

    Costs one page however deep (the (user_id, created_at, id) and (created_at) indexes); the total is
    exact up to EXACT_TOTAL_CAP. Raises ValidationError as log_list and paginate_keyset do.
    """
    queryset = log_list(**filters)
    if with_template:
        queryset = queryset.select_related("template")
    with lagging_reads():  # a list may be a moment behind (kit/replica.py: never the client's own writes)
        return paginate_keyset(queryset, keys=LIST_ORDER, page=page, size=size, cursor=cursor)


def log_get(*, id: int) -> NotificationLog:
    """One log. Raises NotificationLog.DoesNotExist."""
    return NotificationLog.objects.get(pk=id)


def log_provider_calls(*, log_id: int) -> QuerySet[ProviderCall]:
    """The provider calls made for a log, in the order they were made (the (log, id) index)."""
    return ProviderCall.objects.filter(log_id=log_id).order_by("id")


@dataclass(frozen=True)
class Backlog:
    due: int  # pending logs whose time has come
    oldest_due_age_seconds: float  # how long the oldest of them has waited (0 when none)


def log_backlog(*, now: dt.datetime | None = None) -> Backlog:
    """The delivery backlog, read without counting the pending logs one by one.

    A log waits from its `scheduled_for` (send_at, end of quiet hours, end of a retry's backoff)
    or, when it has none, from its acceptance. The due count is the rollup's pending count less the logs
    scheduled for later (a range of the partial index of pending logs); the oldest is the first entry of
    that index, or the first pending log without a schedule from the rollup's oldest pending hour on.
    """
    now = now or timezone.now()
    pending = NotificationLog.objects.filter(status=NotificationStatus.PENDING)
    later = pending.filter(scheduled_for__gt=now).count()
    due = max(0, pending_count() - later)
    oldest_scheduled = (pending.filter(scheduled_for__lte=now).order_by("scheduled_for")
                        .values_list("scheduled_for", flat=True).first())
    since, oldest_unscheduled = oldest_pending_hour(), None
    if since is not None:
        oldest_unscheduled = (pending.filter(scheduled_for__isnull=True, created_at__gte=since).order_by("created_at")
                              .values_list("created_at", flat=True).first())
    oldest = min((moment for moment in (oldest_scheduled, oldest_unscheduled) if moment is not None), default=None)
    return Backlog(due=due, oldest_due_age_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)


def log_provider_names() -> list[str]:
    """The names of the providers configured for every channel (sorted, no repeats): the fixed choices of a
    provider filter, read from settings instead of from the table."""
    names: set[str] = set()
    for channel in Channel:
        try:
            names.update(provider.name for provider in registry.providers_for(channel))
        except ImproperlyConfigured:
            continue
    return sorted(names)


_DIGITS = re.compile(r"\d{1,19}")
_PHONE = re.compile(r"\+\d{6,15}")
_INT_MAX, _BIGINT_MAX = 2**31 - 1, 2**63 - 1


def log_search_count_parts(condition: Q | None) -> list[Q] | None:
    """For a search (log_search_filter's condition) by digits that may be a user id or a log id, the search split in
    two disjoint parts (the user's logs; the log of that id if someone else's), each counted through one index:
    counting the OR of both read every row of a heavy user's from the table (28-150 ms at 10 million logs) where
    the user's index alone counts them. None when the search is one lookup already."""
    if condition is None or condition.connector != Q.OR:
        return None
    by_log, by_user = condition.children
    return [Q(by_user), Q(by_log) & ~Q(by_user)]


def log_search_filter(*, term: str) -> Q | None:
    """The filter an exact search for `term` stands for, chosen by its shape so that each shape reads one
    index: digits are a user id or a log id; an email address or an E.164 number is a recipient; anything
    else is a provider's message id (among the configured providers, the leading column of that index).

    None for a blank term (no filter); a filter that matches nothing for digits past a 64-bit id.
    """
    term = term.strip()
    if not term:
        return None
    if _DIGITS.fullmatch(term):
        number = int(term)
        if number > _BIGINT_MAX:
            return Q(pk__in=[])
        return Q(pk=number) | Q(user_id=number) if number <= _INT_MAX else Q(pk=number)
    if "@" in term or _PHONE.fullmatch(term):
        return Q(recipient=term)
    return Q(provider__in=log_provider_names(), provider_message_id=term)
