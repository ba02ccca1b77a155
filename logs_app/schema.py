"""GraphQL types, inputs and resolvers for the delivery log and for sending a notification."""

import datetime as dt
import enum

import strawberry
import strawberry_django
from django.utils import timezone
from strawberry import Info

from templates_app.schema import (
    NotificationTemplate, NotificationType, PaginationInfo, PaginationInput, json_input, json_output, page_of,
)

from . import models, selectors, services

NotificationStatus = strawberry.enum(
    enum.Enum("NotificationStatus", {choice.name: choice.value for choice in models.NotificationStatus}),
    description="Where a notification is: pending, then sent, delivered, failed or bounced; or suppressed.",
)

NotificationPriority = strawberry.enum(
    enum.Enum("NotificationPriority", {choice.name: choice.value for choice in models.Priority}),
    description="URGENT notifications are delivered during quiet hours too.",
)


def _template_id(root: strawberry.Parent[models.NotificationLog]) -> int | None:
    return root.template_id


def _metadata(root: strawberry.Parent[models.NotificationLog]) -> str | None:
    return json_output(root.notification_metadata)


@strawberry_django.type(models.NotificationLog, description="One notification and the audit trail of delivering it.")
class NotificationLog:
    id: int
    user_id: int
    template_id: int | None = strawberry_django.field(resolver=_template_id)
    type: NotificationType
    status: NotificationStatus
    sent_at: dt.datetime | None
    error_message: str | None
    metadata: str | None = strawberry_django.field(resolver=_metadata, description="JSON: what the provider answered.")
    created_at: dt.datetime
    template: NotificationTemplate | None
    template_name: str = strawberry_django.field(description="Kept after the template is deleted.")
    scheduled_for: dt.datetime | None = strawberry_django.field(
        description="Not delivered before then (requested send time, quiet hours, retry backoff)."
    )
    delivered_at: dt.datetime | None


@strawberry.type(description="One page of a user's notifications, newest first.")
class NotificationLogList:
    items: list[NotificationLog]
    pagination: PaginationInfo


@strawberry.input
class NotificationRequestInput:
    user_id: int
    template_name: str
    context: str = strawberry.field(description='JSON object of the template\'s variables, e.g. {"code": "1234"}.')
    channel: NotificationType | None = strawberry.field(
        default=None, description="Send by this channel instead of the template's own."
    )
    recipient: str | None = strawberry.field(
        default=None, description="Address, phone number or push token; omitted, the one on file is used."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeating a key returns the first notification; nothing is sent twice."
    )
    send_at: dt.datetime | None = strawberry.field(default=None, description="Deliver no earlier than this.")
    priority: NotificationPriority | None = None


@strawberry.type(description="The answer to sendNotification: the log it made and what will happen next.")
class NotificationResponse:
    id: int
    status: NotificationStatus
    message: str
    created_at: dt.datetime
    scheduled_for: dt.datetime | None


def _response_message(log: models.NotificationLog, *, created: bool, send_at: dt.datetime | None) -> str:
    if not created:
        return f"Already accepted with this idempotency key (status {log.status}); nothing was sent again"
    if log.status == models.NotificationStatus.SUPPRESSED:
        return log.error_message or "Suppressed"
    if log.scheduled_for:
        requested = send_at is not None and log.scheduled_for == (
            timezone.make_aware(send_at, dt.timezone.utc) if timezone.is_naive(send_at) else send_at)
        reason = "requested" if requested else "quiet hours"
        return f"Scheduled for {log.scheduled_for.isoformat()} ({reason})"
    return "Notification accepted for delivery"


def user_notifications(user_id: int, pagination: PaginationInput | None = None) -> NotificationLogList:
    """A user's notifications, newest first, one page at a time."""
    # One join instead of a query per log when the client asks for each log's template.
    page = page_of(selectors.log_list(user_id=user_id).select_related("template"), pagination)
    return NotificationLogList(items=list(page.items), pagination=PaginationInfo.from_page(page))


def send_notification(info: Info, input: NotificationRequestInput) -> NotificationResponse:
    """Send a notification: render the template with `context`, honour the user's preferences, queue delivery."""
    log, created = services.notification_send(
        user_id=input.user_id,
        template_name=input.template_name,
        context=json_input("context", input.context),
        channel=input.channel.value if input.channel else None,
        recipient=input.recipient,
        idempotency_key=input.idempotency_key,
        client=info.context.api_key.prefix,
        send_at=input.send_at,
        priority=(input.priority or NotificationPriority.NORMAL).value,
    )
    return NotificationResponse(
        id=log.pk, status=log.status, created_at=log.created_at, scheduled_for=log.scheduled_for,
        message=_response_message(log, created=created, send_at=input.send_at),
    )
