"""The suppression list in the admin: search, filter, export as CSV, add by hand, remove."""

import csv

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from .models import ConsentRecord, Suppression, SuppressionReason
from .services import suppression_add, suppression_remove

EXPORT_COLUMNS = ("channel", "address", "reason", "detail", "source", "created_at")


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("address", "channel", "reason", "source", "created_at")
    list_filter = ("channel", "reason", "source")
    search_fields = ("address",)
    date_hierarchy = "created_at"
    readonly_fields = ("reason", "detail", "source", "created_at")
    actions = ("export_csv", "remove_selected")

    def get_readonly_fields(self, request: HttpRequest, obj: Suppression | None = None) -> tuple[str, ...]:
        # An entry is what a provider reported; operators add (as `manual`) or remove, never rewrite one.
        return ("channel", "address", *self.readonly_fields) if obj else self.readonly_fields

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # remove_selected goes through the service
        return actions

    def save_model(self, request: HttpRequest, obj: Suppression, form, change: bool) -> None:
        if change:
            return
        added = suppression_add(channel=obj.channel, address=obj.address, reason=SuppressionReason.MANUAL,
                                detail=f"Added by {request.user.get_username()} in the admin.", source="admin")
        obj.pk, obj.address, obj.reason = added.pk, added.address, added.reason

    def delete_model(self, request: HttpRequest, obj: Suppression) -> None:
        suppression_remove(suppression_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        for suppression_id in queryset.values_list("pk", flat=True):
            suppression_remove(suppression_id=suppression_id)

    @admin.action(description="Remove the selected suppressions (sends reach them again)",
                  permissions=["delete"])
    def remove_selected(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> None:
        count = queryset.count()
        self.delete_queryset(request, queryset)
        self.message_user(request, f"Removed {count} suppression(s).")

    @admin.action(description="Export the selected suppressions as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Suppression]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="suppressions.csv"'
        writer = csv.writer(response)
        writer.writerow(EXPORT_COLUMNS)
        for row in queryset.order_by("channel", "address").values_list(*EXPORT_COLUMNS).iterator():
            # A leading =, +, - or @ would be a formula in a spreadsheet; numbers start with +.
            writer.writerow([f"'{value}" if isinstance(value, str) and value[:1] in "=-@" else value
                             for value in row])
        return response


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    """Read only: a record is what happened; nobody edits or deletes one by hand (erasure anonymises them)."""

    list_display = ("created_at", "user_id", "field", "old_value", "new_value", "source", "detail")
    list_filter = ("source", "created_at")
    search_fields = ("=user_id", "field")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # the table grows without bound: no COUNT(*) of it on every page

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ConsentRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ConsentRecord | None = None) -> bool:
        return False
