"""GraphQL types, inputs and resolvers for the delivery log and for sending a notification."""

import datetime as dt
import enum
from typing import Annotated, NewType

import strawberry
import strawberry_django
from graphql import GraphQLError
from strawberry import Info

from apikeys_app.models import Scope
from kit.graphql import PaginationInfo, PaginationInput, json_input, json_output
from kit.pagination import DEFAULT_PAGE_SIZE, MAX_OFFSET
from templates_app.schema import NotificationTemplate, NotificationType

from . import models, selectors
from .pipeline.accept import Accepted, notification_send
from .pipeline.messages import address_hidden

NotificationStatus = strawberry.enum(
    enum.Enum("NotificationStatus", {choice.name: choice.value for choice in models.NotificationStatus}),
    description="Where a notification is: pending, then sent, delivered, failed or bounced; or suppressed.",
)

NotificationPriority = strawberry.enum(
    enum.Enum("NotificationPriority", {choice.name: choice.value for choice in models.Priority}),
    description="URGENT notifications are delivered during quiet hours too.",
)


# Log ids are 64-bit; GraphQL's Int is 32-bit. `id` stays an Int for every id that fits (the seed's
# schema, unchanged for clients whose logs never get there), and `logId` carries any id as a string.
GRAPHQL_INT_MAX = 2**31 - 1

BigInt = NewType("BigInt", int)
# The root schema puts these in its StrawberryConfig.scalar_map.
SCALARS = {BigInt: strawberry.scalar(
    name="BigInt", serialize=str, parse_value=int,
    description="A 64-bit integer, written as a decimal string (GraphQL's Int stops at 2^31 - 1).",
)}


def small_id(log_id: int) -> int:
    """`log_id` as a GraphQL Int; an id past 2^31 - 1 is an error (code ID_TOO_LARGE) naming `logId`."""
    if log_id > GRAPHQL_INT_MAX:
        raise GraphQLError(f"Log id {log_id} is past GraphQL's 32-bit Int: read logId instead.",
                           extensions={"code": "ID_TOO_LARGE"})
    return log_id


def _id(root: strawberry.Parent[models.NotificationLog]) -> int:
    return small_id(root.pk)


def _log_id(root: strawberry.Parent[models.NotificationLog]) -> BigInt:
    return root.pk


def _template_id(root: strawberry.Parent[models.NotificationLog]) -> int | None:
    return root.template_id


def _metadata(root: strawberry.Parent[models.NotificationLog]) -> str | None:
    return json_output(root.notification_metadata)


@strawberry_django.type(models.NotificationLog, description="One notification and the audit trail of delivering it.")
class NotificationLog:
    id: int = strawberry_django.field(resolver=_id, description="Up to 2^31 - 1; past it an error: read logId.")
    log_id: BigInt = strawberry_django.field(resolver=_log_id, description="The id, whatever its size.")
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
    next_cursor: str | None = strawberry.field(
        description="Pass as `cursor` to read the next page (at the cost of one page, however deep); "
                    "null on the last page.")


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
        default=None, description="Repeated within 24 h with the same input: the first notification, nothing is sent "
                                  "twice; with another input: an error naming idempotencyKey."
    )
    send_at: dt.datetime | None = strawberry.field(default=None, description="Deliver no earlier than this.")
    priority: NotificationPriority | None = None


@strawberry.type(description="The answer to sendNotification: the log it made and what will happen next.")
class NotificationResponse:
    log_id: BigInt = strawberry.field(description="The log's id, whatever its size.")
    status: NotificationStatus
    message: str
    created_at: dt.datetime
    scheduled_for: dt.datetime | None

    @strawberry.field(description="The log's id, up to 2^31 - 1; past it an error: read logId.")
    def id(self) -> int:
        return small_id(self.log_id)


def _response_message(accepted: Accepted, *, reader: bool) -> str:
    """What became of the send; to a key without the `read` scope (`reader` false) it names no address."""
    log = accepted.log
    if not accepted.created:
        return f"Already accepted with this idempotency key (status {log.status}); nothing was sent again"
    if log.status == models.NotificationStatus.SUPPRESSED:
        reason = log.error_message if reader else address_hidden(log.error_message, log.recipient)
        return reason or "Suppressed"
    if accepted.deferred:
        return f"Scheduled for {log.scheduled_for.isoformat()} ({accepted.deferred})"
    return "Notification accepted for delivery"


def user_notifications(
    user_id: int, pagination: PaginationInput | None = None,
    cursor: Annotated[str | None, strawberry.argument(
        description=f"The nextCursor of the previous page; overrides pagination.page. Pages starting past "
                    f"row {MAX_OFFSET} are only reached this way.")] = None,
) -> NotificationLogList:
    """A user's notifications, newest first, one page at a time."""
    pagination = pagination or PaginationInput()
    # Templates joined: one query instead of one per log when the client asks for each log's template.
    page = selectors.log_page(user_id=user_id, page=1 if pagination.page is None else pagination.page,
                              size=DEFAULT_PAGE_SIZE if pagination.size is None else pagination.size, cursor=cursor,
                              with_template=True)
    return NotificationLogList(items=list(page.items), pagination=PaginationInfo.from_page(page),
                               next_cursor=page.next_cursor)


def send_notification(info: Info, input: NotificationRequestInput) -> NotificationResponse:
    """Send a notification: render the template with `context`, honour the user's preferences, queue delivery."""
    accepted = notification_send(
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
    log = accepted.log
    return NotificationResponse(
        log_id=log.pk, status=log.status, created_at=log.created_at, scheduled_for=log.scheduled_for,
        message=_response_message(accepted, reader=info.context.api_key.has_scope(Scope.READ)),
    )
