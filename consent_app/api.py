"""REST endpoints for the suppression list: read it page by page, and take an entry off it."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from apikeys_app.models import Scope
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import KeysetQuerySerializer, page_response, paginated
from kit.views import ApiView

from . import selectors, services
from .models import SuppressionChannel, SuppressionReason


class SuppressionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    channel = serializers.ChoiceField(choices=SuppressionChannel.choices)
    address = serializers.CharField(help_text="An email address (lower-cased) or an E.164 number.")
    reason = serializers.ChoiceField(choices=SuppressionReason.choices)
    detail = serializers.CharField(help_text="What the provider said, or who added it.")
    source = serializers.CharField(help_text="Who reported it: an ESP, twilio, sms (a STOP reply) or admin.")
    created_at = serializers.DateTimeField()


class SuppressionListQuerySerializer(KeysetQuerySerializer):
    channel = serializers.ChoiceField(choices=SuppressionChannel.choices, required=False)
    reason = serializers.ChoiceField(choices=SuppressionReason.choices, required=False)
    address = serializers.CharField(required=False, max_length=320,
                                    help_text="The whole address or number (an email in any case).")
    search = serializers.CharField(required=False, max_length=320, help_text="Part of the address or number.")


class SuppressionListApi(ApiView):
    """The addresses and numbers no notification goes to: bounces, complaints, opt-outs, operators' entries."""

    read_scope = Scope.MANAGE  # addresses in bulk: more than a `read` key may see

    @extend_schema(operation_id="suppressions_list", parameters=[SuppressionListQuerySerializer],
                   responses={200: paginated(SuppressionOutputSerializer, keyset=True), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(SuppressionListQuerySerializer, request)
        page, size, cursor = query.pop("page"), query.pop("size"), query.pop("cursor", None)
        return page_response(selectors.suppression_page(**query, page=page, size=size, cursor=cursor),
                             SuppressionOutputSerializer)


class SuppressionDetailApi(ApiView):
    """One entry of the suppression list: remove it, so that sends reach the address again."""

    @extend_schema(operation_id="suppressions_destroy",
                   responses={204: None, 404: OpenApiResponse(ErrorSerializer, description="No such entry.")})
    def delete(self, request: Request, suppression_id: int) -> Response:
        services.suppression_remove(suppression_id=suppression_id, source="api")
        return Response(status=status.HTTP_204_NO_CONTENT)
