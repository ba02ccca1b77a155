"""API keys in the admin: djangorestframework-api-key's admin (key shown once), with scopes."""

from django import forms
from django.contrib import admin
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey as UnusedLibraryAPIKey

from .models import APIKey, Scope

# The library registers its own (unused) key model; operators should see only ours.
admin.site.unregister(UnusedLibraryAPIKey)


class APIKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=Scope.values)

    class Meta:
        model = APIKey
        fields = ("name", "scopes", "expiry_date", "revoked")


@admin.register(APIKey)
class APIKeyAdmin(APIKeyModelAdmin):
    form = APIKeyForm
    list_display = (*APIKeyModelAdmin.list_display, "scope_names")
    list_filter = ("revoked", "created")

    @admin.display(description="scopes")
    def scope_names(self, key: APIKey) -> str:
        """The scopes as words ("send, read"), not the stored JSON list."""
        return ", ".join(key.scopes or []) or "-"
