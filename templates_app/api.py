"""REST endpoints for templates and their versions: validate input, call the services, shape output."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from kit.bodies import JSONValueField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import PageQuerySerializer, page_response, paginate, paginated
from kit.views import ApiView

from . import selectors, services
from .models import NotificationType

NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No template with this id.")}

VARIABLES_HELP = ("The placeholders the text uses: an object of name -> example value, or a list of names. "
                  "Omitted or null: derived from the text.")


class TemplateOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    type = serializers.ChoiceField(choices=NotificationType.choices)
    subject = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    html_body = serializers.CharField()
    variables = serializers.JSONField(allow_null=True)
    version = serializers.IntegerField(help_text="Current version; each change of the text adds one.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class TemplateVersionOutputSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    subject = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    html_body = serializers.CharField()
    variables = serializers.JSONField(allow_null=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField()


class TemplateListQuerySerializer(PageQuerySerializer):
    type = serializers.ChoiceField(choices=NotificationType.choices, required=False)
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the name, any case.")


class TemplateInputSerializer(StrictInputSerializer):
    """A whole template (POST, PUT); PATCH sends any subset of these fields."""

    name = serializers.CharField(max_length=100, help_text=services.TEMPLATE_NAME_RULE)
    type = serializers.ChoiceField(choices=NotificationType.choices)
    subject = serializers.CharField(max_length=255, allow_null=True, allow_blank=True, required=False,
                                    default=None, trim_whitespace=False, help_text="Required for email.")
    body = serializers.CharField(trim_whitespace=False, help_text="Jinja2 text, such as `Hi {{ first_name }}`.")
    html_body = serializers.CharField(allow_blank=True, required=False, default="", trim_whitespace=False,
                                      help_text="Email only: the HTML alternative.")
    variables = JSONValueField(allow_null=True, required=False, default=None, help_text=VARIABLES_HELP)


def _updated_by(request: Request) -> str:
    return f"api:{request.auth.prefix}"


class TemplateListCreateApi(ApiView):
    """Templates: list (filter by type, search by name) and create."""

    @extend_schema(operation_id="templates_list", parameters=[TemplateListQuerySerializer],
                   responses={200: paginated(TemplateOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(TemplateListQuerySerializer, request)
        templates = selectors.template_list(type=query.get("type"), search=query.get("search"))
        return page_response(paginate(templates, page=query["page"], size=query["size"]), TemplateOutputSerializer)

    @extend_schema(operation_id="templates_create", request=TemplateInputSerializer,
                   responses={201: TemplateOutputSerializer, **INVALID_INPUT})
    def post(self, request: Request) -> Response:
        template = services.template_create(**self.body(TemplateInputSerializer, request),
                                            created_by=_updated_by(request))
        return Response(TemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(ApiView):
    """One template: read, replace, change, delete."""

    @extend_schema(operation_id="templates_retrieve", responses={200: TemplateOutputSerializer, **NOT_FOUND})
    def get(self, request: Request, template_id: int) -> Response:
        return Response(TemplateOutputSerializer(selectors.template_get(id=template_id)).data)

    @extend_schema(operation_id="templates_update", request=TemplateInputSerializer,
                   responses={200: TemplateOutputSerializer, **INVALID_INPUT, **NOT_FOUND},
                   description="Replace the template; omitted optional fields take their defaults.")
    def put(self, request: Request, template_id: int) -> Response:
        return self._update(request, template_id, partial=False)

    @extend_schema(operation_id="templates_partial_update", request=TemplateInputSerializer,
                   responses={200: TemplateOutputSerializer, **INVALID_INPUT, **NOT_FOUND},
                   description="Change some fields; a change of the text makes a new version.")
    def patch(self, request: Request, template_id: int) -> Response:
        return self._update(request, template_id, partial=True)

    def _update(self, request: Request, template_id: int, *, partial: bool) -> Response:
        template = selectors.template_get(id=template_id)
        changes = self.body(TemplateInputSerializer, request, partial=partial)
        template = services.template_update(template=template, updated_by=_updated_by(request), **changes)
        return Response(TemplateOutputSerializer(template).data)

    @extend_schema(operation_id="templates_destroy", responses={204: None, **NOT_FOUND})
    def delete(self, request: Request, template_id: int) -> Response:
        services.template_delete(template=selectors.template_get(id=template_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateVersionListApi(ApiView):
    """A template's kept versions, newest first."""

    @extend_schema(operation_id="templates_versions_list", parameters=[PageQuerySerializer],
                   responses={200: paginated(TemplateVersionOutputSerializer), **INVALID_INPUT, **NOT_FOUND})
    def get(self, request: Request, template_id: int) -> Response:
        query = self.query(PageQuerySerializer, request)
        versions = selectors.template_version_list(template=selectors.template_get(id=template_id))
        return page_response(paginate(versions, page=query["page"], size=query["size"]),
                             TemplateVersionOutputSerializer)
