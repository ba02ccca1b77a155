"""REST endpoints for categories and kinds: validate input, call the services, shape output."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from kit.bodies import StrictBooleanField, StrictInputSerializer
from kit.errors import INVALID_INPUT, ErrorSerializer
from kit.pagination import PageQuerySerializer, page_response, paginate, paginated
from kit.views import ApiView
from templates_app.models import NotificationType

from . import selectors, services
from .models import KEY_HELP, KEY_PATTERN, NotificationKind

CATEGORY_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No category with this id.")}
KIND_NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No kind with this id.")}
TEMPLATE_ID_MAX = 2**63 - 1


def key_field(max_length: int, **kwargs) -> serializers.RegexField:
    return serializers.RegexField(KEY_PATTERN, max_length=max_length, help_text=KEY_HELP,
                                  error_messages={"invalid": f"Not a valid key: {KEY_HELP}"}, **kwargs)


# Categories ------------------------------------------------------------------------------------

class CategoryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    enabled_by_default = serializers.BooleanField(
        help_text="Whether a user who never chose for this category receives its kinds.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CategoryInputSerializer(StrictInputSerializer):
    """A whole category (POST, PUT); PATCH sends any subset of these fields."""

    key = key_field(50)
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    enabled_by_default = StrictBooleanField(
        required=False, default=True, help_text="Whether a user who never chose for this category receives its kinds.")


class CategoryListQuerySerializer(PageQuerySerializer):
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the key or name, any case.")


class CategoryListCreateApi(ApiView):
    """Categories: list and create."""

    @extend_schema(operation_id="categories_list", parameters=[CategoryListQuerySerializer],
                   responses={200: paginated(CategoryOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(CategoryListQuerySerializer, request)
        categories = selectors.category_list(search=query.get("search"))
        return page_response(paginate(categories, page=query["page"], size=query["size"]), CategoryOutputSerializer)

    @extend_schema(operation_id="categories_create", request=CategoryInputSerializer,
                   responses={201: CategoryOutputSerializer, **INVALID_INPUT})
    def post(self, request: Request) -> Response:
        category = services.category_create(**self.body(CategoryInputSerializer, request))
        return Response(CategoryOutputSerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(ApiView):
    """One category: read, replace, change, delete (only when no kind belongs to it)."""

    @extend_schema(operation_id="categories_retrieve", responses={200: CategoryOutputSerializer, **CATEGORY_NOT_FOUND})
    def get(self, request: Request, category_id: int) -> Response:
        return Response(CategoryOutputSerializer(selectors.category_get(id=category_id)).data)

    @extend_schema(operation_id="categories_update", request=CategoryInputSerializer,
                   responses={200: CategoryOutputSerializer, **INVALID_INPUT, **CATEGORY_NOT_FOUND},
                   description="Replace the category; omitted optional fields take their defaults.")
    def put(self, request: Request, category_id: int) -> Response:
        return self._update(request, category_id, partial=False)

    @extend_schema(operation_id="categories_partial_update", request=CategoryInputSerializer,
                   responses={200: CategoryOutputSerializer, **INVALID_INPUT, **CATEGORY_NOT_FOUND},
                   description="Change some fields.")
    def patch(self, request: Request, category_id: int) -> Response:
        return self._update(request, category_id, partial=True)

    def _update(self, request: Request, category_id: int, *, partial: bool) -> Response:
        category = selectors.category_get(id=category_id)
        changes = self.body(CategoryInputSerializer, request, partial=partial)
        return Response(CategoryOutputSerializer(services.category_update(category=category, **changes)).data)

    @extend_schema(operation_id="categories_destroy", responses={
        204: None, **CATEGORY_NOT_FOUND,
        400: OpenApiResponse(ErrorSerializer, description="Kinds still belong to the category.")})
    def delete(self, request: Request, category_id: int) -> Response:
        services.category_delete(category=selectors.category_get(id=category_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Kinds -----------------------------------------------------------------------------------------

class TemplateRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField(help_text="The template's current version.")


class KindTemplatesOutputSerializer(serializers.Serializer):
    email = TemplateRefSerializer(allow_null=True)
    sms = TemplateRefSerializer(allow_null=True)
    push = TemplateRefSerializer(allow_null=True)
    in_app = TemplateRefSerializer(allow_null=True)


class KindOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    category = serializers.CharField(source="category.key", help_text="The category's key.")
    critical = serializers.BooleanField(
        help_text="Reaches users who opted out of its category or channel (quiet hours still apply).")
    templates = serializers.SerializerMethodField(help_text="The template each channel sends; null: not sent.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(KindTemplatesOutputSerializer)
    def get_templates(self, kind: NotificationKind) -> dict:
        by_channel = {link.channel: link.template for link in kind.channel_templates.all()}
        return {channel: ({"id": template.id, "name": template.name, "version": template.version}
                          if (template := by_channel.get(channel)) else None)
                for channel in NotificationType.values}


class KindTemplatesInputSerializer(StrictInputSerializer):
    """The template each channel sends (its id); a null or omitted channel is not used by the kind."""

    email = serializers.IntegerField(min_value=1, max_value=TEMPLATE_ID_MAX, allow_null=True, required=False)
    sms = serializers.IntegerField(min_value=1, max_value=TEMPLATE_ID_MAX, allow_null=True, required=False)
    push = serializers.IntegerField(min_value=1, max_value=TEMPLATE_ID_MAX, allow_null=True, required=False)
    in_app = serializers.IntegerField(min_value=1, max_value=TEMPLATE_ID_MAX, allow_null=True, required=False)


class KindInputSerializer(StrictInputSerializer):
    """A whole kind (POST, PUT); PATCH sends any subset of these fields (`templates` replaces the whole set)."""

    key = key_field(100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    category = serializers.CharField(max_length=50, help_text="The key of an existing category.")
    critical = StrictBooleanField(
        required=False, default=False,
        help_text="Reaches users who opted out of its category or channel (quiet hours still apply).")
    templates = KindTemplatesInputSerializer(help_text="At least one channel's template.")


class KindListQuerySerializer(PageQuerySerializer):
    category = serializers.CharField(required=False, max_length=50, help_text="Only kinds of this category (key).")
    search = serializers.CharField(required=False, max_length=100, help_text="Part of the key or name, any case.")


class KindListCreateApi(ApiView):
    """Kinds: list (filter by category, search) and create."""

    @extend_schema(operation_id="kinds_list", parameters=[KindListQuerySerializer],
                   responses={200: paginated(KindOutputSerializer), **INVALID_INPUT})
    def get(self, request: Request) -> Response:
        query = self.query(KindListQuerySerializer, request)
        kinds = selectors.kind_list(category=query.get("category"), search=query.get("search"))
        return page_response(paginate(kinds, page=query["page"], size=query["size"]), KindOutputSerializer)

    @extend_schema(operation_id="kinds_create", request=KindInputSerializer,
                   responses={201: KindOutputSerializer, **INVALID_INPUT})
    def post(self, request: Request) -> Response:
        kind = services.kind_create(**self.body(KindInputSerializer, request))
        return Response(KindOutputSerializer(selectors.kind_get(id=kind.id)).data, status=status.HTTP_201_CREATED)


class KindDetailApi(ApiView):
    """One kind: read, replace, change, delete."""

    @extend_schema(operation_id="kinds_retrieve", responses={200: KindOutputSerializer, **KIND_NOT_FOUND})
    def get(self, request: Request, kind_id: int) -> Response:
        return Response(KindOutputSerializer(selectors.kind_get(id=kind_id)).data)

    @extend_schema(operation_id="kinds_update", request=KindInputSerializer,
                   responses={200: KindOutputSerializer, **INVALID_INPUT, **KIND_NOT_FOUND},
                   description="Replace the kind; omitted optional fields take their defaults.")
    def put(self, request: Request, kind_id: int) -> Response:
        return self._update(request, kind_id, partial=False)

    @extend_schema(operation_id="kinds_partial_update", request=KindInputSerializer,
                   responses={200: KindOutputSerializer, **INVALID_INPUT, **KIND_NOT_FOUND},
                   description="Change some fields; `templates`, when given, replaces the whole set.")
    def patch(self, request: Request, kind_id: int) -> Response:
        return self._update(request, kind_id, partial=True)

    def _update(self, request: Request, kind_id: int, *, partial: bool) -> Response:
        kind = selectors.kind_get(id=kind_id)
        changes = self.body(KindInputSerializer, request, partial=partial)
        services.kind_update(kind=kind, **changes)
        return Response(KindOutputSerializer(selectors.kind_get(id=kind_id)).data)

    @extend_schema(operation_id="kinds_destroy", responses={204: None, **KIND_NOT_FOUND})
    def delete(self, request: Request, kind_id: int) -> Response:
        services.kind_delete(kind=selectors.kind_get(id=kind_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
