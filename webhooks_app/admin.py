"""Webhook endpoints in the admin: made and changed through the services; a secret is shown once, in a message.
Each endpoint lists its recent attempts; events are listed (by endpoint, status, type, time) and replayed."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from apikeys_app.models import APIKey

from . import services
from .dispatch import events_replay
from .models import EventType, WebhookAttempt, WebhookEndpoint, WebhookEvent

RECENT_ATTEMPTS = 20


def _client_choices() -> list[tuple[str, str]]:
    return [(key.prefix, f"{key.name} ({key.prefix})") for key in APIKey.objects.order_by("name")]


class WebhookEndpointForm(forms.ModelForm):
    client = forms.ChoiceField(choices=_client_choices, help_text="The API key whose notifications it hears of.")
    event_types = forms.MultipleChoiceField(choices=EventType.choices, widget=forms.CheckboxSelectMultiple,
                                            required=False, help_text="None ticked: every type.")

    class Meta:
        model = WebhookEndpoint
        fields = ("client", "url", "description", "event_types", "include_body", "enabled")

    url = forms.URLField(max_length=2000, assume_scheme="https")

    def clean_url(self) -> str:
        try:
            return services.endpoint_url_check(self.cleaned_data["url"])
        except ValidationError as err:
            raise ValidationError(err.message_dict["url"]) from None


def _show_secret(request: HttpRequest, endpoint: WebhookEndpoint, what: str) -> None:
    messages.warning(request, f"{what} {endpoint.url}: {endpoint.secret} (copy it now; it is not shown again).")


class _RecentFormSet(BaseInlineFormSet):
    """Only the newest attempts: an endpoint may have made millions."""

    def get_queryset(self) -> QuerySet:
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset().order_by("-id")[:RECENT_ATTEMPTS]
        return self._recent


class _AttemptsInline(admin.TabularInline):
    model = WebhookAttempt
    formset = _RecentFormSet
    fields = readonly_fields = ("attempted_at", "event", "status_code", "latency_ms", "error")
    extra = max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RecentAttemptsInline(_AttemptsInline):
    fk_name = "endpoint"
    verbose_name_plural = f"recent attempts (the newest {RECENT_ATTEMPTS})"


class EventAttemptsInline(_AttemptsInline):
    fk_name = "event"
    verbose_name_plural = "attempts (the newest first)"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    inlines = (RecentAttemptsInline,)
    list_display = ("id", "url", "client", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "client", "description")
    readonly_fields = ("failing_since", "disabled_reason", "previous_secret_expires_at", "created_at", "updated_at")
    actions = ("rotate_secret",)

    def get_inlines(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple:
        return self.inlines if obj else ()  # a new endpoint has made no attempts

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "client") if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool) -> None:
        data: dict[str, Any] = {name: form.cleaned_data[name]
                                for name in ("url", "description", "event_types", "include_body", "enabled")}
        try:
            if change:
                services.endpoint_update(endpoint=obj, **data)
            else:
                endpoint = services.endpoint_create(client=form.cleaned_data["client"], **data)
                obj.pk, obj.secret = endpoint.pk, endpoint.secret
                _show_secret(request, endpoint, "Signing secret of")
        except ValidationError as err:  # checked by the form already; a race with DNS can still refuse it
            self.message_user(request, "; ".join(err.messages), level=messages.ERROR)

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.endpoint_delete(endpoint=obj)

    @admin.action(description="Rotate the signing secret (the old one signs for the overlap)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            _show_secret(request, services.endpoint_rotate_secret(endpoint=endpoint), "New signing secret of")


@admin.register(WebhookEvent)
class WebhookEventAdmin(admin.ModelAdmin):
    """The outbox, read-only: filter by endpoint, status, type and time, then replay what is selected."""

    list_display = ("id", "webhook_id", "event_type", "endpoint", "log_id", "status", "attempts", "next_attempt_at",
                    "created_at")
    list_filter = ("status", "event_type", "endpoint", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=webhook_id", "=log_id")
    date_hierarchy = "created_at"
    list_select_related = ("endpoint",)
    show_full_result_count = False
    inlines = (EventAttemptsInline,)
    actions = ("replay",)

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEvent | None = None) -> list[str]:
        return [field.name for field in WebhookEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return request.method in ("GET", "HEAD") and super().has_change_permission(request, obj)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("webhooks_app.change_webhookevent")

    @admin.action(description="Replay the selected events (same webhook-id, a fresh run of retries)",
                  permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        count = events_replay(event_ids=list(queryset.order_by("id").values_list("id", flat=True)))
        self.message_user(request, f"Replaying {count} webhook event{'s' if count != 1 else ''}.")
