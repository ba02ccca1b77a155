"""REST endpoints for a client's webhook endpoints (the `manage` scope, reads included: URLs are private)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys_app.models import Scope
from kit.bodies import StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import PageQuerySerializer, page_response, paginate, paginated
from kit.views import ApiView

from . import selectors, services
from .models import EventType

NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No endpoint of this API key with this id.")}


class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices),
                                        help_text="The event types it receives; empty: every type.")
    include_body = serializers.BooleanField(help_text="Events carry the message's subject and body.")
    enabled = serializers.BooleanField()
    disabled_reason = serializers.CharField(help_text="Why delivery turned it off, if it did.")
    failing_since = serializers.DateTimeField(allow_null=True,
                                              help_text="Start of the current run of failed deliveries.")
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the secret before the last rotation signs too.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookEndpointSecretOutputSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret (`whsec_...`); shown only now.")


class WebhookEndpointInputSerializer(StrictInputSerializer):
    """An endpoint (POST); PATCH sends any subset of these fields."""

    url = serializers.CharField(max_length=2000, help_text=(
        "Where events are POSTed: https, at a public address (checked again at every delivery)."))
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), required=False,
                                        default=list, max_length=len(EventType.values) * 2,
                                        help_text="The event types it wants; omitted or empty: every type.")
    description = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)
    include_body = serializers.BooleanField(required=False, default=False,
                                            help_text="Whether events carry the message's subject and body.")
    enabled = serializers.BooleanField(required=False, default=True)


class SecretRotationInputSerializer(StrictInputSerializer):
    """How long the current secret keeps signing beside the new one."""

    overlap_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=services.MAX_OVERLAP_SECONDS,
        help_text="Seconds both secrets sign; omitted: WEBHOOK_SECRET_OVERLAP_SECONDS (24 h by default).")


class _EndpointApi(ApiView):
    read_scope = Scope.MANAGE

    @staticmethod
    def client(request: Request) -> str:
        return request.auth.prefix


class WebhookEndpointListCreateApi(_EndpointApi):
    """This API key's webhook endpoints: list and create."""

    @extend_schema(operation_id="webhook_endpoints_list", parameters=[PageQuerySerializer],
                   responses={200: paginated(WebhookEndpointOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(PageQuerySerializer, request)
        endpoints = selectors.endpoint_list(client=self.client(request))
        return page_response(paginate(endpoints, page=query["page"], size=query["size"]),
                             WebhookEndpointOutputSerializer)

    @extend_schema(operation_id="webhook_endpoints_create", request=WebhookEndpointInputSerializer,
                   responses={201: WebhookEndpointSecretOutputSerializer, **INVALID_INPUT},
                   description="The answer carries the signing secret; it is not shown again.")
    def post(self, request: Request) -> Response:
        endpoint = services.endpoint_create(client=self.client(request),
                                            **self.body(WebhookEndpointInputSerializer, request))
        return Response(WebhookEndpointSecretOutputSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailApi(_EndpointApi):
    """One webhook endpoint: read, change, delete."""

    @extend_schema(operation_id="webhook_endpoints_retrieve",
                   responses={200: WebhookEndpointOutputSerializer, **NOT_FOUND})
    def get(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(id=endpoint_id, client=self.client(request))
        return Response(WebhookEndpointOutputSerializer(endpoint).data)

    @extend_schema(operation_id="webhook_endpoints_partial_update", request=WebhookEndpointInputSerializer,
                   responses={200: WebhookEndpointOutputSerializer, **INVALID_INPUT, **NOT_FOUND},
                   description="Change some fields; enabling an endpoint forgets its failures.")
    def patch(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(id=endpoint_id, client=self.client(request))
        changes = self.body(WebhookEndpointInputSerializer, request, partial=True)
        return Response(WebhookEndpointOutputSerializer(services.endpoint_update(endpoint=endpoint, **changes)).data)

    @extend_schema(operation_id="webhook_endpoints_destroy", responses={204: None, **NOT_FOUND})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        services.endpoint_delete(endpoint=selectors.endpoint_get(id=endpoint_id, client=self.client(request)))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointSecretApi(_EndpointApi):
    """A new signing secret for an endpoint."""

    @extend_schema(operation_id="webhook_endpoints_rotate_secret", request=SecretRotationInputSerializer,
                   responses={200: WebhookEndpointSecretOutputSerializer, **INVALID_INPUT, **NOT_FOUND},
                   description="The answer carries the new secret; during the overlap the old one signs too.")
    def post(self, request: Request, endpoint_id: int) -> Response:
        endpoint = selectors.endpoint_get(id=endpoint_id, client=self.client(request))
        body = self.body(SecretRotationInputSerializer, request)
        endpoint = services.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=body.get("overlap_seconds"))
        return Response(WebhookEndpointSecretOutputSerializer(endpoint).data)
