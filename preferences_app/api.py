"""REST endpoints for a user's preferences and push devices: validate input, call the services, shape output."""

import datetime as dt
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from kit.bodies import StrictBooleanField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import PageQuerySerializer, page_response, paginate, paginated
from kit.views import ApiView

from . import categories, services
from .models import DevicePlatform


class TimeOfDayField(serializers.RegexField):
    """A wall-clock time as "HH:MM", in and out; the service turns the text into a time."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(f"^{services.TIME_OF_DAY.pattern}$", **kwargs)
        self.error_messages["invalid"] = "Use HH:MM (local time, no seconds or offset), for example 22:00."

    def to_representation(self, value: dt.time) -> str:
        return value.strftime("%H:%M")


class PreferenceOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    email_enabled = serializers.BooleanField()
    sms_enabled = serializers.BooleanField()
    push_enabled = serializers.BooleanField()
    in_app_enabled = serializers.BooleanField()
    quiet_hours_start = TimeOfDayField(allow_null=True)
    quiet_hours_end = TimeOfDayField(allow_null=True)
    timezone = serializers.CharField()
    email = serializers.CharField()
    phone_number = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class PreferenceInputSerializer(StrictInputSerializer):
    """The whole preference (PUT: omitted fields take the defaults); PATCH sends any subset."""

    email_enabled = serializers.BooleanField(required=False, default=True)
    sms_enabled = serializers.BooleanField(required=False, default=True)
    push_enabled = serializers.BooleanField(required=False, default=True)
    in_app_enabled = serializers.BooleanField(required=False, default=True)
    quiet_hours_start = TimeOfDayField(allow_null=True, required=False, default=None,
                                       help_text="Local time HH:MM; set together with quiet_hours_end.")
    quiet_hours_end = TimeOfDayField(allow_null=True, required=False, default=None,
                                     help_text="Local time HH:MM; may be earlier than the start (overnight).")
    timezone = serializers.CharField(max_length=64, required=False, default="UTC",
                                     help_text="IANA name, such as Europe/Berlin.")
    email = serializers.CharField(max_length=254, allow_blank=True, required=False, default="")
    phone_number = serializers.CharField(max_length=32, allow_blank=True, required=False, default="",
                                         help_text="E.164, such as +4915112345678.")


class DeviceOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    platform = serializers.ChoiceField(choices=DevicePlatform.choices)
    token = serializers.CharField()
    active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class DeviceInputSerializer(StrictInputSerializer):
    platform = serializers.ChoiceField(choices=DevicePlatform.choices)
    token = serializers.CharField(
        max_length=512, help_text="ios (APNs): 64 to 200 hexadecimal characters; android (FCM): 20 to 512 of letters, "
                                  "digits, `_`, `-`, `:` and `.`.")


class PreferenceDetailApi(ApiView):
    """A user's channel switches, quiet hours, timezone, email and phone."""

    @extend_schema(operation_id="preferences_retrieve", responses={200: PreferenceOutputSerializer, **INVALID_INPUT},
                   description="The user's preferences; the defaults are created on first read.")
    def get(self, request: Request, user_id: int) -> Response:
        preference = services.preference_get_or_create(user_id=user_id)
        return Response(PreferenceOutputSerializer(preference).data)

    @extend_schema(operation_id="preferences_update", request=PreferenceInputSerializer,
                   responses={200: PreferenceOutputSerializer, **INVALID_INPUT},
                   description="Replace the preferences; omitted fields take the defaults.")
    def put(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, partial=False)

    @extend_schema(operation_id="preferences_partial_update", request=PreferenceInputSerializer,
                   responses={200: PreferenceOutputSerializer, **INVALID_INPUT})
    def patch(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, partial=True)

    def _update(self, request: Request, user_id: int, *, partial: bool) -> Response:
        changes = self.body(PreferenceInputSerializer, request, partial=partial)
        preference = services.preference_update(user_id=user_id, source="api", **changes)
        return Response(PreferenceOutputSerializer(preference).data)


class DeviceListCreateApi(ApiView):
    """A user's push devices: list and register."""

    @extend_schema(operation_id="preferences_devices_list", parameters=[PageQuerySerializer],
                   responses={200: paginated(DeviceOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request, user_id: int) -> Response:
        query = self.query(PageQuerySerializer, request)
        devices = services.device_list(user_id=user_id)
        return page_response(paginate(devices, page=query["page"], size=query["size"]), DeviceOutputSerializer)

    @extend_schema(operation_id="preferences_devices_create", request=DeviceInputSerializer,
                   responses={201: DeviceOutputSerializer, **INVALID_INPUT},
                   description="Register a push token (or re-activate it); a token moves from another user.")
    def post(self, request: Request, user_id: int) -> Response:
        device = services.device_add(user_id=user_id, **self.body(DeviceInputSerializer, request))
        return Response(DeviceOutputSerializer(device).data, status=status.HTTP_201_CREATED)


class DeviceDetailApi(ApiView):
    """One of the user's push devices: remove."""

    @extend_schema(operation_id="preferences_devices_destroy",
                   responses={204: None, 404: OpenApiResponse(ErrorSerializer, description="Not this user's device.")})
    def delete(self, request: Request, user_id: int, device_id: int) -> Response:
        services.device_remove(user_id=user_id, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelChoicesSerializer(StrictInputSerializer):
    """Per channel: true (on), false (off), or null to forget the choice so the next rule decides."""

    email = StrictBooleanField(allow_null=True, required=False)
    sms = StrictBooleanField(allow_null=True, required=False)
    push = StrictBooleanField(allow_null=True, required=False)


class NotificationSettingsInputSerializer(StrictInputSerializer):
    """Choices per category and per kind, by key: {key: {channel: true | false | null}}."""

    categories = serializers.DictField(child=ChannelChoicesSerializer(), required=False,
                                       help_text="Category key -> channel choices, e.g. {\"marketing\": {\"email\": false}}.")
    kinds = serializers.DictField(child=ChannelChoicesSerializer(), required=False,
                                  help_text="Kind key -> channel choices, e.g. {\"order_shipped\": {\"sms\": false}}.")


class ChannelChoicesOutputSerializer(serializers.Serializer):
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)
    push = serializers.BooleanField(required=False)


class NotificationSettingsOutputSerializer(serializers.Serializer):
    categories = serializers.DictField(child=ChannelChoicesOutputSerializer())
    kinds = serializers.DictField(child=ChannelChoicesOutputSerializer())


class NotificationSettingsApi(ApiView):
    """A user's choices per category and per kind. The most specific choice wins: a kind's, then its
    category's, then the channel switch, then the category's default; a critical kind ignores opt-outs."""

    @extend_schema(operation_id="preferences_settings_retrieve",
                   responses={200: NotificationSettingsOutputSerializer, **INVALID_INPUT})
    def get(self, request: Request, user_id: int) -> Response:
        return Response(categories.settings_get(user_id=user_id))

    @extend_schema(operation_id="preferences_settings_update", request=NotificationSettingsInputSerializer,
                   responses={200: NotificationSettingsOutputSerializer, **INVALID_INPUT},
                   description="Replace every choice: those not given are forgotten.")
    def put(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, replace=True)

    @extend_schema(operation_id="preferences_settings_partial_update", request=NotificationSettingsInputSerializer,
                   responses={200: NotificationSettingsOutputSerializer, **INVALID_INPUT},
                   description="Change the choices given; null forgets one; the others stay.")
    def patch(self, request: Request, user_id: int) -> Response:
        return self._update(request, user_id, replace=False)

    def _update(self, request: Request, user_id: int, *, replace: bool) -> Response:
        body = self.body(NotificationSettingsInputSerializer, request, partial=not replace)
        return Response(categories.settings_update(user_id=user_id, replace=replace, source="api", **body))
