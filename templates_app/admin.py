"""Templates in the admin: search, type filter, a live preview and the version history.

Saving goes through templates_app.services, so the admin keeps versions exactly as the APIs do.
"""

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.http import require_POST

from .models import NotificationTemplate, TemplateVersion
from .provided import provided_variables_all
from .services import (example_context, template_create, template_name_clean, template_preview, template_update,
                       template_validate)


def declared_variables(value: Any) -> Any:
    """What the Variables box declares: nothing typed, or an empty object, derives them from the text
    (the save and the live preview read the box alike)."""
    return value or None


def sample_context(*, declared: dict[str, Any], given: dict[str, Any] | None) -> dict[str, Any]:
    """The preview's sample context: one entry per declared variable, the value typed for it if any,
    else its example (so the sample follows the variables as they are declared)."""
    examples = example_context(NotificationTemplate(variables=declared))
    return {name: (given[name] if given and name in given else example) for name, example in examples.items()}


class VariablesField(forms.JSONField):
    """JSON, shown empty (not `null`) when nothing is declared."""

    def prepare_value(self, value):
        return "" if value is None else super().prepare_value(value)


class NotificationTemplateForm(forms.ModelForm):
    class Meta:
        model = NotificationTemplate
        fields = ("name", "type", "subject", "body", "html_body", "variables")
        widgets = {
            "subject": forms.TextInput(attrs={"class": "vLargeTextField template-source", "size": 80}),
            "body": forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField template-source"}),
            "html_body": forms.Textarea(attrs={"rows": 8, "class": "vLargeTextField template-source"}),
            "variables": forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField template-source"}),
        }
        field_classes = {"variables": VariablesField}
        help_texts = {
            "variables": 'JSON: each placeholder with an example value, e.g. {"first_name": "Ada"}. '
                         "Leave empty (or {}) to derive the names from the text.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and not self.is_bound:
            self.initial["variables"] = None  # an empty box derives them, as its help says
        provided = [f"{{{{ {found.name} }}}} in {' and '.join(sorted(found.types))} templates ({found.description})"
                    for found in provided_variables_all()]
        if provided:
            self.fields["variables"].help_text += (" Filled in by the service for each recipient, never declared: "
                                                   + "; ".join(provided) + ".")

    def clean_name(self):
        name = self.cleaned_data["name"]
        return name if self.instance.pk and name == self.instance.name else template_name_clean(name)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            data["variables"] = template_validate(
                type=data.get("type"), subject=data.get("subject"), body=data.get("body", ""),
                html_body=data.get("html_body", ""), variables=declared_variables(data.get("variables")),
            )
        except ValidationError as err:
            self.add_error(None, err)
        return data


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    fields = ("version", "subject", "body", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = "version"
    verbose_name_plural = "Version history"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    form = NotificationTemplateForm
    list_display = ("name", "type", "subject", "version", "updated_at")
    list_filter = ("type",)
    search_fields = ("name", "subject")
    readonly_fields = ("version", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "type", "subject", "body", "html_body", "variables")}),
        ("History", {"fields": ("version", "created_at", "updated_at")}),
    )
    inlines = (TemplateVersionInline,)
    change_form_template = "admin/templates_app/notificationtemplate/change_form.html"

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in NotificationTemplateForm.Meta.fields}
        if change:
            saved = template_update(template=NotificationTemplate.objects.get(pk=obj.pk),
                                    updated_by=request.user.get_username(), **fields)
        else:
            saved = template_create(created_by=request.user.get_username(), **fields)
        obj.pk, obj.version, obj.variables = saved.pk, saved.version, saved.variables

    def get_urls(self):
        preview = self.admin_site.admin_view(require_POST(self.preview_view))
        return [path("preview/", preview, name="templates_app_notificationtemplate_preview"), *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["sample_context"] = json.dumps(example_context(obj) if obj else {}, indent=2)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Render the unsaved form text with a sample context (answered back: it follows the declared
        variables); errors come back per field."""
        if not (self.has_change_permission(request) or self.has_add_permission(request)):
            raise PermissionDenied
        errors = {}
        try:
            variables = declared_variables(json.loads(request.POST.get("variables") or "null"))
        except json.JSONDecodeError as err:
            errors["variables"] = [f"Not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})."]
        try:
            context = json.loads(request.POST.get("context") or "null")
            if context is not None and not isinstance(context, dict):
                errors["context"] = ["The sample context must be a JSON object."]
        except json.JSONDecodeError as err:
            errors["context"] = [f"Not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})."]
        if errors:
            return JsonResponse({"ok": False, "errors": errors})
        text = {"type": request.POST.get("type", ""), "subject": request.POST.get("subject") or None,
                "body": request.POST.get("body", ""), "html_body": request.POST.get("html_body", "")}
        try:
            context = sample_context(declared=template_validate(**text, variables=variables), given=context)
            rendered = template_preview(**text, variables=variables, context=context)
        except ValidationError as err:
            return JsonResponse({"ok": False, "errors": err.message_dict})
        return JsonResponse({"ok": True, "subject": rendered.subject, "body": rendered.body,
                             "html_body": rendered.html_body, "context": context})
