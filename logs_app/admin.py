"""The delivery log in the admin: read-only, filterable by status, type and date, searchable by user."""

from django.contrib import admin

from .models import NotificationLog


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    list_display = ("id", "user_id", "type", "status", "template_name", "provider", "attempts", "created_at",
                    "sent_at")
    list_filter = ("status", "type", "priority", ("created_at", admin.DateFieldListFilter), "provider")
    search_fields = ("=user_id", "=provider_message_id", "template_name")
    date_hierarchy = "created_at"
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("user_id", "type", "status", "priority", "recipient")}),
        ("Template", {"fields": ("template", "template_name", "template_version")}),
        ("Message", {"fields": ("subject", "body", "html_body")}),
        ("Delivery", {"fields": ("provider", "provider_message_id", "attempts", "error_message",
                                 "scheduled_for", "queued_at", "sent_at", "delivered_at")}),
        ("Request", {"fields": ("client", "idempotency_key", "notification_metadata", "created_at", "updated_at")}),
    )

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
