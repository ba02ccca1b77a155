"""REST endpoints for sending notifications and reading the delivery log: validate, call the services, shape."""

import datetime as dt
import itertools
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys_app.models import APIKey, Scope
from kit.bodies import BigIdField, JSONObjectField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import KeysetQuerySerializer, page_response, paginated
from kit.views import ApiView
from preferences_app.models import USER_ID_MAX, is_user_id
from templates_app.models import NotificationType

from . import privacy, selectors
from .models import CallOutcome, NotificationLog, NotificationStatus, Priority
from .pipeline.accept import notification_send
from .pipeline.bulk import notification_send_bulk
from .pipeline.request import idempotency_key_problem, send_cache_keys

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Up to 255 characters, unique per API key. Repeated within 24 hours with the same body, it returns "
                "the first answer (200) and sends nothing; with another body it is refused (422).")
# What a key repeated with another body answers (pipeline.request.idempotency_earlier).
REPEATED_KEY = {422: OpenApiResponse(
    ErrorSerializer, description="A repeated Idempotency-Key with another body: refused, naming idempotency_key.")}


class LogOutputSerializer(serializers.Serializer):
    id = BigIdField()
    user_id = serializers.IntegerField()
    template_id = serializers.IntegerField(allow_null=True, help_text="Null once the template is deleted.")
    template_name = serializers.CharField()
    template_version = serializers.IntegerField(allow_null=True)
    type = serializers.ChoiceField(choices=NotificationType.choices, help_text="The channel it goes by.")
    status = serializers.ChoiceField(choices=NotificationStatus.choices)
    priority = serializers.ChoiceField(choices=Priority.choices)
    recipient = serializers.CharField()
    subject = serializers.CharField()
    body = serializers.CharField()
    provider = serializers.CharField()
    provider_message_id = serializers.CharField()
    attempts = serializers.IntegerField()
    error_message = serializers.CharField(allow_null=True)
    notification_metadata = serializers.JSONField(allow_null=True)
    idempotency_key = serializers.CharField(allow_null=True)
    batch_id = serializers.UUIDField(allow_null=True)
    trigger_id = serializers.UUIDField(allow_null=True, help_text="The trigger of a kind it came from.")
    scheduled_for = serializers.DateTimeField(allow_null=True, help_text="Not delivered before this moment.")
    sent_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProviderCallOutputSerializer(serializers.Serializer):
    attempt = serializers.IntegerField(help_text="The delivery attempt it was part of (1 is the first).")
    provider = serializers.CharField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.IntegerField(help_text="How long the provider took to answer.")
    outcome = serializers.ChoiceField(choices=CallOutcome.choices)
    error = serializers.CharField(help_text="The provider's reason; empty when it took the message.")
    provider_message_id = serializers.CharField(help_text="The provider's id for the message; empty unless sent.")


class LogDetailOutputSerializer(LogOutputSerializer):
    provider_calls = ProviderCallOutputSerializer(
        many=True, help_text="Every provider tried for this log, in order: an attempt fails over from one provider "
                             "to the next, so it may hold several calls.")


# What a key without the `read` scope is told about the log its send made: contact details and content
# are for readers (a `send` key could otherwise look up any user's address by user id).
RECEIPT_FIELDS = ("id", "status", "scheduled_for", "sent_at", "delivered_at", "created_at", "updated_at")


class SentLogOutputSerializer(LogOutputSerializer):
    """The log a send made. Every field comes to a key with the `read` scope; a key without it gets only
    `id`, `status` and the timestamps, so the other fields are optional here."""

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for name, field in fields.items():
            if name not in RECEIPT_FIELDS:
                field.required = False
        return fields


# Answers are built by `log_data`, not by LogOutputSerializer: a DRF serializer deep-copies its 23 fields
# for every instance, which costs more than the rest of a send's view. The serializer stays the schema,
# and tests/api/test_notifications.py keeps the two identical.
_UUID = serializers.UUIDField()


def _moment(value: dt.datetime | None, zone: dt.tzinfo) -> str | None:
    """As DRF's DateTimeField gives it: ISO 8601 in the current time zone, UTC written as Z."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def log_data(log: NotificationLog) -> dict[str, Any]:
    """A log as LogOutputSerializer describes it."""
    zone = timezone.get_current_timezone()
    return {
        "id": log.id, "user_id": log.user_id, "template_id": log.template_id, "template_name": log.template_name,
        "template_version": log.template_version, "type": log.type, "status": log.status, "priority": log.priority,
        "recipient": log.recipient, "subject": log.subject, "body": log.body, "provider": log.provider,
        "provider_message_id": log.provider_message_id, "attempts": log.attempts,
        "error_message": log.error_message, "notification_metadata": log.notification_metadata,
        "idempotency_key": log.idempotency_key,
        "batch_id": None if log.batch_id is None else _UUID.to_representation(log.batch_id),
        "trigger_id": None if log.trigger_id is None else _UUID.to_representation(log.trigger_id),
        "scheduled_for": _moment(log.scheduled_for, zone), "sent_at": _moment(log.sent_at, zone),
        "delivered_at": _moment(log.delivered_at, zone), "created_at": _moment(log.created_at, zone),
        "updated_at": _moment(log.updated_at, zone),
    }


def sent_log_data(log: NotificationLog, *, key: APIKey) -> dict[str, Any]:
    """The log a send made, as SentLogOutputSerializer describes it for this API key."""
    data = log_data(log)
    return data if key.has_scope(Scope.READ) else {name: data[name] for name in RECEIPT_FIELDS}


class LogListQuerySerializer(KeysetQuerySerializer):
    user_id = serializers.IntegerField(min_value=1, max_value=USER_ID_MAX, required=False)
    status = serializers.ChoiceField(choices=NotificationStatus.choices, required=False)
    type = serializers.ChoiceField(choices=NotificationType.choices, required=False)
    trigger_id = serializers.UUIDField(required=False, help_text="Only the logs of this trigger.")
    created_after = serializers.DateTimeField(required=False, help_text="Inclusive, ISO 8601.")
    created_before = serializers.DateTimeField(required=False, help_text="Exclusive, ISO 8601.")


class SendFieldsSerializer(StrictInputSerializer):
    template_name = serializers.CharField(max_length=100)
    context = JSONObjectField(required=False, default=dict, help_text="Values for the template's variables.")
    channel = serializers.ChoiceField(choices=NotificationType.choices, required=False, default=None,
                                      help_text="Overrides the template's type.")
    send_at = serializers.DateTimeField(required=False, default=None, help_text="Deliver no earlier than this.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False, default=Priority.NORMAL,
                                       help_text="`urgent` ignores quiet hours.")


class SendInputSerializer(SendFieldsSerializer):
    user_id = serializers.IntegerField(min_value=1, max_value=USER_ID_MAX)
    recipient = serializers.CharField(max_length=512, required=False, default=None,
                                      help_text="Address, E.164 number or push token; default: the user's on file.")


class UserIdListField(serializers.ListField):
    """A non-empty list of user ids, checked in one pass and passed on as parsed: a bulk send may name
    100,000 users, and validating each through its IntegerField child would copy every id (seconds, and
    megabytes). The child still describes the items in the schema."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.IntegerField(min_value=1, max_value=USER_ID_MAX), allow_empty=False,
                         **kwargs)

    def to_internal_value(self, data: Any) -> list[int]:
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        if not data:
            self.fail("empty")
        bad = itertools.islice((index for index, item in enumerate(data) if not is_user_id(item)), 10)
        errors = {index: [f"Must be a user id: a whole number from 1 to {USER_ID_MAX}."] for index in bad}
        if errors:
            raise serializers.ValidationError(errors)
        return data


class BulkSendInputSerializer(SendFieldsSerializer):
    user_ids = UserIdListField()


class BulkSendOutputSerializer(serializers.Serializer):
    batch_id = serializers.CharField(help_text="Shared by the batch's logs.")
    accepted = serializers.IntegerField(help_text="Logs queued (or scheduled) for delivery.")
    suppressed = serializers.IntegerField(help_text="Logs suppressed by the users' preferences.")
    failed = serializers.IntegerField(help_text="Users with no address on file for the channel.")


def api_client(request: Request) -> str:
    """The key's public prefix names the caller in the log, and scopes its idempotency keys."""
    return request.auth.prefix


def idempotency_key_header(request: Request) -> str | None:
    """The Idempotency-Key header, checked by the services' rule. Raises ValidationError under the header's name."""
    key = request.headers.get("Idempotency-Key")
    problem = idempotency_key_problem(key) if key is not None else None
    if problem:  # named after the header it came in, not the services' argument
        raise serializers.ValidationError({"Idempotency-Key": [problem]})
    return key


class NotificationListCreateApi(ApiView):
    """Send one notification, or list the delivery log."""

    write_scope = Scope.SEND

    @extend_schema(operation_id="notifications_list", parameters=[LogListQuerySerializer],
                   responses={200: paginated(LogOutputSerializer, keyset=True), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(LogListQuerySerializer, request)
        page, size, cursor = query.pop("page"), query.pop("size"), query.pop("cursor", None)
        return page_response(selectors.log_page(**query, page=page, size=size, cursor=cursor), log_data)

    @classmethod
    def read_ahead(cls, method: str, data: Any) -> list[str]:
        """A send reads its template and its user's preferences; the body names both."""
        if method != "POST" or not isinstance(data, dict):
            return []
        return send_cache_keys(template_name=data.get("template_name"), user_id=data.get("user_id"))

    @extend_schema(
        operation_id="notifications_send", request=SendInputSerializer, parameters=[IDEMPOTENCY_KEY],
        responses={202: OpenApiResponse(
            SentLogOutputSerializer,
            description="Accepted: the new log (its id, status and timestamps only, to a key without `read`)."),
                   200: OpenApiResponse(SentLogOutputSerializer,
                                        description="A repeated Idempotency-Key with the same body: the first log."),
                   **REPEATED_KEY, **INVALID_INPUT})
    def post(self, request: Request) -> Response:
        key = idempotency_key_header(request)
        accepted = notification_send(**self.body(SendInputSerializer, request), client=api_client(request),
                                     idempotency_key=key)
        return Response(sent_log_data(accepted.log, key=request.auth),
                        status=status.HTTP_202_ACCEPTED if accepted.created else status.HTTP_200_OK)


class NotificationBulkApi(ApiView):
    """Send one template to many users."""

    write_scope = Scope.SEND
    max_body_setting = "API_BULK_MAX_BODY_BYTES"

    @extend_schema(
        operation_id="notifications_send_bulk", request=BulkSendInputSerializer, parameters=[IDEMPOTENCY_KEY],
        responses={202: OpenApiResponse(BulkSendOutputSerializer, description="Accepted: the batch."),
                   200: OpenApiResponse(BulkSendOutputSerializer, description="A repeated Idempotency-Key with "
                                                                               "the same body: the first bulk send's batch."),
                   **REPEATED_KEY, **INVALID_INPUT},
        description="One template to many users; each user's preferences apply.")
    def post(self, request: Request) -> Response:
        key = idempotency_key_header(request)
        result, created = notification_send_bulk(**self.body(BulkSendInputSerializer, request),
                                                           client=api_client(request), idempotency_key=key)
        return Response(BulkSendOutputSerializer(result).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class NotificationDetailApi(ApiView):
    """One entry of the delivery log."""

    @extend_schema(operation_id="notifications_retrieve",
                   responses={200: LogDetailOutputSerializer,
                              404: OpenApiResponse(ErrorSerializer, description="No such log.")})
    def get(self, request: Request, log_id: int) -> Response:
        log = selectors.log_get(id=log_id)
        calls = ProviderCallOutputSerializer(selectors.log_provider_calls(log_id=log.pk), many=True).data
        return Response({**log_data(log), "provider_calls": calls})


class UserExportOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    exported_at = serializers.DateTimeField()
    preferences = serializers.JSONField(allow_null=True, help_text="Channel switches, quiet hours, email, phone.")
    devices = serializers.ListField(child=serializers.DictField(), help_text="Push devices: platform, token, active.")
    topics = serializers.ListField(child=serializers.CharField(), help_text="Keys of the topics the user is on.")
    notifications = serializers.ListField(child=serializers.DictField(),
                                          help_text="Every notification log, oldest first, with its content and "
                                                    "provider calls.")


class UserErasureOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    preferences_deleted = serializers.IntegerField()
    devices_deleted = serializers.IntegerField()
    logs_anonymised = serializers.IntegerField()
    logs_cancelled = serializers.IntegerField(help_text="Pending notifications that will not be sent.")
    erased_at = serializers.DateTimeField()


class UserExportApi(ApiView):
    """Everything stored about a user (a GDPR access request)."""

    read_scope = Scope.MANAGE  # personal data in bulk: more than a `read` key may see

    @extend_schema(operation_id="users_export", responses={200: UserExportOutputSerializer, **INVALID_INPUT},
                   description="The user's preferences and contact points, push devices and notification logs "
                               "(streamed as it is read, so a user with any number of logs can be exported).")
    def get(self, request: Request, user_id: int) -> StreamingHttpResponse:
        return StreamingHttpResponse(privacy.user_data_export(user_id=user_id), content_type="application/json")


class UserEraseApi(ApiView):
    """Erase a user's personal data (a GDPR erasure request)."""

    write_scope = Scope.MANAGE

    @extend_schema(operation_id="users_erase", request=None, responses={200: UserErasureOutputSerializer, **INVALID_INPUT},
                   description="Deletes preferences, contact points and devices; cancels pending notifications; "
                               "anonymises the logs (user id 0, no recipient or content). Cannot be undone.")
    def post(self, request: Request, user_id: int) -> Response:
        return Response(UserErasureOutputSerializer(privacy.user_data_erase(user_id=user_id)).data)
