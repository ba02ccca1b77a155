"""REST endpoint for triggering a kind: validate, call the pipeline's trigger stage, shape the outcome."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys_app.models import APIKey, Scope
from kit.bodies import BigIdField, JSONObjectField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.views import ApiView
from templates_app.models import NotificationType

from .api import IDEMPOTENCY_KEY, REPEATED_KEY, UserIdListField, api_client, idempotency_key_header
from .models import NotificationStatus, Priority
from .pipeline.cancel import trigger_cancel
from .pipeline.trigger import OUTCOMES_MAX, TriggerResult, notification_trigger


class TriggerInputSerializer(StrictInputSerializer):
    """A kind, triggered once for its recipients: each gets the kind on every channel they allow."""

    kind = serializers.CharField(max_length=100, help_text="The kind's key, such as `order_shipped`.")
    user_ids = UserIdListField(required=False, default=list,
                               help_text="Recipients; a user named twice (or also through a topic) is notified once.")
    topics = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, default=list, max_length=100,
        help_text="Topic keys: their members at trigger time are recipients too.")
    context = JSONObjectField(required=False, default=dict, help_text="Values for the templates' variables.")
    send_at = serializers.DateTimeField(required=False, default=None, help_text="Deliver no earlier than this.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL,
                                       help_text="`urgent` ignores quiet hours.")
    cancellation_key = serializers.CharField(
        max_length=255, required=False, default=None,
        help_text="Names the trigger for DELETE /api/v1/triggers/{cancellation_key}/, which suppresses its pending logs.")


class ChannelOutcomeSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=NotificationType.choices)
    status = serializers.ChoiceField(choices=NotificationStatus.choices,
                                     help_text="`pending` (accepted), `suppressed` or `failed`, or later states on a repeat.")
    reason = serializers.CharField(allow_null=True, help_text="Why it was suppressed or failed; null when accepted. "
                                   "To a key without the `read` scope it names no address.")
    log_id = BigIdField()


class RecipientOutcomeSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    channels = ChannelOutcomeSerializer(many=True)


class TriggerOutputSerializer(serializers.Serializer):
    trigger_id = serializers.UUIDField(help_text="Carried by every log the trigger made.")
    kind = serializers.CharField()
    recipients = serializers.IntegerField(help_text="Users notified (each once).")
    accepted = serializers.IntegerField(help_text="Logs queued (or scheduled) for delivery.")
    suppressed = serializers.IntegerField(help_text="Logs suppressed by the users' preferences.")
    failed = serializers.IntegerField(help_text="Logs of a channel the user has no address for.")
    cancellation_key = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    outcomes = RecipientOutcomeSerializer(
        many=True, allow_null=True,
        help_text=f"Each recipient's outcome per channel; null past {OUTCOMES_MAX} recipients (read the logs).")


def trigger_data(result: TriggerResult, *, key: APIKey) -> dict:
    """The trigger as TriggerOutputSerializer describes it; for a key without the `read` scope no reason names
    an address."""
    if not key.has_scope(Scope.READ):
        result = result.without_addresses()
    trigger = result.trigger
    outcomes = None if result.outcomes is None else [
        {"user_id": user_id, "channels": [
            {"channel": o.channel, "status": o.status, "reason": o.reason, "log_id": o.log_id} for o in channels]}
        for user_id, channels in result.outcomes.items()]
    return TriggerOutputSerializer({
        "trigger_id": trigger.id, "kind": trigger.kind_key, "recipients": trigger.recipients,
        "accepted": trigger.accepted, "suppressed": trigger.suppressed, "failed": trigger.failed,
        "cancellation_key": trigger.cancellation_key, "created_at": trigger.created_at, "outcomes": outcomes}).data


class TriggerCreateApi(ApiView):
    """Trigger a kind for one or more users."""

    write_scope = Scope.SEND
    max_body_setting = "API_BULK_MAX_BODY_BYTES"

    @extend_schema(
        operation_id="triggers_create", request=TriggerInputSerializer, parameters=[IDEMPOTENCY_KEY],
        responses={202: OpenApiResponse(TriggerOutputSerializer, description="Accepted: the trigger and its outcomes."),
                   200: OpenApiResponse(TriggerOutputSerializer,
                                        description="A repeated Idempotency-Key with the same body: the first trigger."),
                   **REPEATED_KEY, **INVALID_INPUT},
        description="One log per recipient and channel the kind has and the user allows, linked by the trigger's id.")
    def post(self, request: Request) -> Response:
        key = idempotency_key_header(request)
        result, created = notification_trigger(**self.body(TriggerInputSerializer, request), client=api_client(request),
                                               idempotency_key=key)
        return Response(trigger_data(result, key=request.auth), status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class TriggerCancelOutputSerializer(serializers.Serializer):
    cancellation_key = serializers.CharField()
    triggers = serializers.IntegerField(help_text="Triggers made with this key.")
    cancelled = serializers.IntegerField(help_text="Their logs that were still pending, now suppressed.")


class TriggerCancelApi(ApiView):
    """Cancel the triggers made with a cancellation key."""

    write_scope = Scope.SEND

    @extend_schema(
        operation_id="triggers_cancel",
        responses={200: TriggerCancelOutputSerializer, **INVALID_INPUT,
                   404: OpenApiResponse(ErrorSerializer, description="No trigger of this API key has this key.")},
        description="Their logs still pending (scheduled, deferred by quiet hours, queued) end `suppressed` with "
                    "the cancellation as the reason; logs already sent are untouched. Cancelling again cancels 0.")
    def delete(self, request: Request, cancellation_key: str) -> Response:
        result = trigger_cancel(client=api_client(request), cancellation_key=cancellation_key)
        return Response(TriggerCancelOutputSerializer(result).data)
