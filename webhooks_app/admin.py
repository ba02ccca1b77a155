"""Webhook endpoints in the admin: made and changed through the services; a secret is shown once, in a message."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from apikeys_app.models import APIKey

from . import services
from .models import EventType, WebhookEndpoint


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


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ("id", "url", "client", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "client", "description")
    readonly_fields = ("failing_since", "disabled_reason", "previous_secret_expires_at", "created_at", "updated_at")
    actions = ("rotate_secret",)

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
