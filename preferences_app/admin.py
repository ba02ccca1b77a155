"""Preferences, contact points and devices in the admin."""

from django.contrib import admin

from .models import Device, NotificationSetting, UserPreference


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
    list_display = ("user_id", "email", "phone_number", "email_enabled", "sms_enabled", "push_enabled",
                    "quiet_hours_start", "quiet_hours_end", "timezone")
    list_filter = ("email_enabled", "sms_enabled", "push_enabled", "timezone")
    search_fields = ("=user_id", "email", "phone_number")
    fieldsets = (
        (None, {"fields": ("user_id",)}),
        ("Channels", {"fields": ("email_enabled", "sms_enabled", "push_enabled")}),
        ("Quiet hours (the user's local time)", {"fields": ("quiet_hours_start", "quiet_hours_end", "timezone")}),
        ("Contact points", {"fields": ("email", "phone_number")}),
    )
    inlines = (NotificationSettingInline, DeviceInline)


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("preference", "platform", "short_token", "active", "created_at")
    list_filter = ("platform", "active")
    search_fields = ("=preference__user_id", "token")
    list_select_related = ("preference",)
    raw_id_fields = ("preference",)

    @admin.display(description="token")
    def short_token(self, device: Device) -> str:
        return f"…{device.token[-12:]}"
