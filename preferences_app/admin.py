"""Preferences, contact points and devices in the admin. A save goes through the preference services, so
every change of a user's choices made here is a consent record with source `admin`, as from any other door."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from kit.admin import moment

from .categories import settings_changes_told
from .models import Device, NotificationSetting, UserPreference
from .services import UPDATABLE_FIELDS, preference_update

SOURCE = "admin"  # the consent records' name for this door


class DeviceInline(admin.TabularInline):
    model = Device
    fields = ("platform", "token", "active", "created_at")
    readonly_fields = ("created_at",)
    extra = 0


class NotificationSettingInline(admin.TabularInline):
    model = NotificationSetting
    fields = ("category", "kind", "channel", "enabled", "updated_at")
    readonly_fields = ("updated_at",)
    autocomplete_fields = ("category", "kind")
    extra = 0
    verbose_name = "choice per category or kind"
    verbose_name_plural = "Choices per category or kind (a kind's wins over its category's, which wins over the channel switch)"


@admin.register(UserPreference)
class UserPreferenceAdmin(admin.ModelAdmin):
    # Short columns, so that the last one is in view at 1400 pixels beside the sidebar and the filters.
    list_display = ("user_id", "email", "phone_number", "email_on", "sms_on", "push_on", "quiet_hours", "timezone")
    list_filter = ("email_enabled", "sms_enabled", "push_enabled", "timezone")
    search_fields = ("=user_id", "email", "phone_number")
    fieldsets = (
        (None, {"fields": ("user_id",)}),
        ("Channels", {"fields": ("email_enabled", "sms_enabled", "push_enabled", "in_app_enabled")}),
        ("Quiet hours (the user's local time)", {"fields": ("quiet_hours_start", "quiet_hours_end", "timezone")}),
        ("Contact points", {"fields": ("email", "phone_number")}),
        ("Consent", {"fields": ("consent_history",)}),
    )
    readonly_fields = ("consent_history",)
    inlines = (NotificationSettingInline, DeviceInline)

    def get_readonly_fields(self, request: HttpRequest, obj: UserPreference | None = None) -> tuple[str, ...]:
        # A row is one user's: moving it to another user id would rewrite whose consent it records.
        return ("user_id", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: UserPreference, form, change: bool) -> None:
        fields = form.changed_data if change else form.cleaned_data
        saved = preference_update(user_id=obj.user_id, source=SOURCE,
                                  **{field: form.cleaned_data[field] for field in fields if field in UPDATABLE_FIELDS})
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not NotificationSetting:
            return super().save_formset(request, form, formset, change)
        with settings_changes_told(user_id=formset.instance.user_id, source=SOURCE):
            return super().save_formset(request, form, formset, change)

    @admin.display(description="email", boolean=True, ordering="email_enabled")
    def email_on(self, preference: UserPreference) -> bool:
        return preference.email_enabled

    @admin.display(description="SMS", boolean=True, ordering="sms_enabled")
    def sms_on(self, preference: UserPreference) -> bool:
        return preference.sms_enabled

    @admin.display(description="push", boolean=True, ordering="push_enabled")
    def push_on(self, preference: UserPreference) -> bool:
        return preference.push_enabled

    @admin.display(description="quiet hours")
    def quiet_hours(self, preference: UserPreference) -> str:
        start, end = preference.quiet_hours_start, preference.quiet_hours_end
        return "-" if start is None or end is None else f"{start:%H:%M}–{end:%H:%M}"

    @admin.display(description="consent history")
    def consent_history(self, preference: UserPreference) -> str:
        if preference.pk is None:
            return "-"
        url = reverse("admin:consent_app_consentrecord_changelist")
        return format_html('<a href="{}?user_id={}">Every change of this user\'s choices, with its source</a>',
                           url, preference.user_id)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("short_token", "user", "platform", "active", "created")
    list_filter = ("platform", "active")
    search_fields = ("=preference__user_id", "token")
    list_select_related = ("preference",)
    raw_id_fields = ("preference",)

    @admin.display(description="token")
    def short_token(self, device: Device) -> str:
        return f"…{device.token[-12:]}"

    @admin.display(description="preferences", ordering="preference__user_id")
    def user(self, device: Device) -> str:
        """A link to the user's preferences (the device's own page is the token's link)."""
        url = reverse("admin:preferences_app_userpreference_change", args=[device.preference_id])
        return format_html('<a href="{}">Preferences of user {}</a>', url, device.preference.user_id)

    @admin.display(description="created", ordering="created_at")
    def created(self, device: Device) -> str:
        return moment(device.created_at)
