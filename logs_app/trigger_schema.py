"""GraphQL input, types and resolver for triggering a kind."""

import datetime as dt

import strawberry
from strawberry import Info

from apikeys_app.models import Scope
from kit.graphql import json_input
from templates_app.schema import NotificationType

from .models import Trigger
from .pipeline.cancel import trigger_cancel
from .pipeline.trigger import OUTCOMES_MAX, notification_trigger
from .schema import BigInt, NotificationPriority, NotificationStatus


@strawberry.input(description="A kind, triggered once for its recipients.")
class TriggerNotificationInput:
    kind: str = strawberry.field(description="The kind's key, such as order_shipped.")
    user_ids: list[int] | None = strawberry.field(
        default=None, description="Recipients; a user named twice (or also through a topic) is notified once.")
    topics: list[str] | None = strawberry.field(
        default=None, description="Topic keys: their members at trigger time are recipients too.")
    context: str | None = strawberry.field(default=None, description="JSON object of the templates' variables.")
    send_at: dt.datetime | None = strawberry.field(default=None, description="Deliver no earlier than this.")
    priority: NotificationPriority | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="Repeated within 24 h with the same input: the first trigger; with another: an error.")
    cancellation_key: str | None = strawberry.field(
        default=None, description="Names the trigger for cancellation, which suppresses its pending logs.")


@strawberry.type(description="What became of one channel for one recipient.")
class ChannelOutcome:
    channel: NotificationType
    status: NotificationStatus
    reason: str | None = strawberry.field(
        description="Why it was suppressed or failed; null when accepted. To a key without the read scope it names "
                    "no address.")
    log_id: BigInt


@strawberry.type
class RecipientOutcome:
    user_id: int
    channels: list[ChannelOutcome]


@strawberry.type(description="The answer to triggerNotification.")
class TriggerResponse:
    trigger_id: str = strawberry.field(description="Carried by every log the trigger made.")
    kind: str
    created: bool = strawberry.field(description="False when an idempotency key returned an earlier trigger.")
    recipients: int
    accepted: int
    suppressed: int
    failed: int
    outcomes: list[RecipientOutcome] | None = strawberry.field(
        description=f"Each recipient's outcome per channel; null past {OUTCOMES_MAX} recipients.")


def trigger_notification(info: Info, input: TriggerNotificationInput) -> TriggerResponse:
    """Trigger a kind: each recipient gets one notification per channel the kind has and they allow."""
    result, created = notification_trigger(
        kind=input.kind, user_ids=list(input.user_ids or []), topics=list(input.topics or []), context=json_input("context", input.context),
        client=info.context.api_key.prefix, idempotency_key=input.idempotency_key, send_at=input.send_at,
        priority=(input.priority or NotificationPriority.NORMAL).value, cancellation_key=input.cancellation_key)
    if not info.context.api_key.has_scope(Scope.READ):
        result = result.without_addresses()
    trigger = result.trigger
    outcomes = None if result.outcomes is None else [
        RecipientOutcome(user_id=user_id, channels=[
            ChannelOutcome(channel=NotificationType(o.channel), status=NotificationStatus(o.status), reason=o.reason,
                           log_id=o.log_id) for o in channels])
        for user_id, channels in result.outcomes.items()]
    return TriggerResponse(trigger_id=str(trigger.id), kind=trigger.kind_key, created=created,
                           recipients=trigger.recipients, accepted=trigger.accepted, suppressed=trigger.suppressed,
                           failed=trigger.failed, outcomes=outcomes)


@strawberry.type(description="The answer to cancelTrigger.")
class TriggerCancellation:
    cancellation_key: str
    triggers: int = strawberry.field(description="Triggers made with this key.")
    cancelled: int = strawberry.field(description="Their logs that were still pending, now suppressed.")


def cancel_trigger(info: Info, cancellation_key: str) -> TriggerCancellation | None:
    """Cancel the triggers made with a cancellation key: their pending logs end suppressed. Null when there is none."""
    try:
        result = trigger_cancel(client=info.context.api_key.prefix, cancellation_key=cancellation_key)
    except Trigger.DoesNotExist:
        return None
    return TriggerCancellation(cancellation_key=result.cancellation_key, triggers=result.triggers,
                               cancelled=result.cancelled)
