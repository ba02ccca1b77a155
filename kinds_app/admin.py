"""Categories and kinds in the admin: a kind's page picks a template per channel and previews them all.

Saving a kind goes through kinds_app.services, so the admin applies the same rules as the APIs.
"""

import json

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from templates_app.models import NotificationTemplate, NotificationType

from .models import Category, NotificationKind, Topic, TopicSubscription
from .services import kind_create, kind_example_context, kind_preview, kind_update


def _template_field(channel: str) -> str:
    return f"{channel}_template"


def _template_picker(channel: NotificationType) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=NotificationTemplate.objects.filter(type=channel).order_by("name"), required=False,
        label=f"{channel.label} template", help_text=f"Leave empty if this kind is not sent by {channel.label}.")


class NotificationKindForm(forms.ModelForm):
    """The kind's own fields plus one template picker per channel, each offering that channel's templates."""

    email_template = _template_picker(NotificationType.EMAIL)
    sms_template = _template_picker(NotificationType.SMS)
    push_template = _template_picker(NotificationType.PUSH)
    in_app_template = _template_picker(NotificationType.IN_APP)

    class Meta:
        model = NotificationKind
        fields = ("key", "name", "description", "category", "critical")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for link in self.instance.channel_templates.all():
                self.fields[_template_field(link.channel)].initial = link.template_id

    def channel_templates(self) -> dict[str, NotificationTemplate | None]:
        return {channel: self.cleaned_data.get(_template_field(channel)) for channel in NotificationType.values}

    def clean(self):
        data = super().clean()
        if not any(self.channel_templates().values()):
            raise ValidationError("Pick a template for at least one channel.")
        return data


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "enabled_by_default", "kind_count")
    search_fields = ("key", "name")
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description="Kinds")
    def kind_count(self, obj: Category) -> int:
        return obj.kinds.count()


@admin.register(NotificationKind)
class NotificationKindAdmin(admin.ModelAdmin):
    form = NotificationKindForm
    list_display = ("key", "name", "category", "critical", "channels")
    list_filter = ("category", "critical")
    search_fields = ("key", "name")
    readonly_fields = ("preview_link", "created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category").prefetch_related("channel_templates")

    def get_fieldsets(self, request, obj=None):
        channels = tuple(_template_field(channel) for channel in NotificationType.values)
        return (
            (None, {"fields": ("key", "name", "description", "category", "critical")}),
            ("Templates per channel", {"fields": channels + (("preview_link",) if obj else ())}),
            ("History", {"fields": ("created_at", "updated_at")}),
        )

    @admin.display(description="Channels")
    def channels(self, obj: NotificationKind) -> str:
        return ", ".join(link.channel for link in obj.channel_templates.all())

    @admin.display(description="Preview")
    def preview_link(self, obj: NotificationKind) -> str:
        url = reverse("admin:kinds_app_notificationkind_preview", args=[obj.pk])
        return format_html('<a href="{}">Preview every channel with one sample context</a>', url)

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in NotificationKindForm.Meta.fields}
        templates = form.channel_templates()
        if change:
            saved = kind_update(kind=NotificationKind.objects.get(pk=obj.pk), templates=templates, **fields)
        else:
            saved = kind_create(templates=templates, **fields)
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # the channel templates were saved with the kind, by the service

    def get_urls(self):
        preview = self.admin_site.admin_view(self.preview_view)
        return [path("<path:object_id>/preview/", preview, name="kinds_app_notificationkind_preview"),
                *super().get_urls()]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Every channel's message rendered with one sample context (the templates' examples at first)."""
        kind = self.get_object(request, object_id)
        if kind is None:
            raise Http404("No such kind.")
        if not self.has_view_or_change_permission(request, kind):
            raise PermissionDenied
        text = request.GET.get("context")
        context, error = None, None
        if text:
            try:
                context = json.loads(text)
                if not isinstance(context, dict):
                    context, error = None, "The sample context must be a JSON object."
            except json.JSONDecodeError as err:
                error = f"Not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})."
        if context is None:
            context = kind_example_context(kind)
        previews = []
        for channel, result in kind_preview(kind=kind, context=context).items():
            if isinstance(result, ValidationError):
                previews.append({"channel": channel, "errors": result.messages})
            else:
                previews.append({"channel": channel, "subject": result.subject, "body": result.body,
                                 "html_body": result.html_body})
        return TemplateResponse(request, "admin/kinds_app/notificationkind/preview.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "original": kind,
            "title": f"Preview of {kind.key}", "previews": previews, "error": error,
            "sample_context": text if error else json.dumps(context, indent=2),
        })


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ("key", "name", "subscriber_count", "created_at")
    search_fields = ("key", "name")
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscribers=Count("subscriptions"))

    @admin.display(description="Subscribers", ordering="subscribers")
    def subscriber_count(self, obj: Topic) -> int:
        return obj.subscribers


@admin.register(TopicSubscription)
class TopicSubscriptionAdmin(admin.ModelAdmin):
    """Who is on which topic's list; a topic may hold many thousands, so they are listed here, not inline."""

    list_display = ("topic", "user_id", "created_at")
    list_filter = ("topic",)
    search_fields = ("=user_id", "topic__key")
    list_select_related = ("topic",)
    raw_id_fields = ("topic",)
