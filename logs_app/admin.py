"""The delivery log in the admin: read-only, and as quick to open at a hundred million rows as at ten.

Every query the list makes reads one page through an index: the count is exact only up to
EXACT_TOTAL_CAP (the planner's estimate beyond it), filters offer fixed choices (no DISTINCT over the
table), there is no date hierarchy, the list sorts only by indexed columns, and a search is one exact
lookup chosen by the shape of what was typed (selectors.log_search_filter).
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.utils.functional import cached_property

from kit import pagination
from kit.admin import moment

from .models import NotificationLog, ProviderCall
from .selectors import log_provider_names, log_search_count_parts, log_search_filter


class CappedCountPaginator(Paginator):
    """Counts exactly up to EXACT_TOTAL_CAP rows and estimates beyond; offers pages up to MAX_OFFSET rows
    (further back, a filter or a search narrows the list instead of an OFFSET that reads every row it skips).
    Given `count_parts` (disjoint querysets whose union is the list), it counts each and adds them up."""

    count_parts: list | None = None

    @cached_property
    def _counted(self) -> tuple[int, bool]:
        if not self.count_parts:
            return pagination.count_capped(self.object_list)
        counts = [pagination.count_capped(part) for part in self.count_parts]
        return sum(count for count, _ in counts), any(estimate for _, estimate in counts)

    @cached_property
    def count(self) -> int:
        return self._counted[0]

    @property
    def count_is_estimate(self) -> bool:
        return self._counted[1]

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, max(1, pagination.MAX_OFFSET // self.per_page))


class IndexedOrderChangeList(ChangeList):
    """Sorts only by the columns in `sortable_by`, whatever `?o=` asks: any other order sorts the whole table."""

    def get_ordering_field(self, field_name):
        return super().get_ordering_field(field_name) if field_name in self.sortable_by else None


class ProviderFilter(admin.SimpleListFilter):
    """The configured providers, from settings: listing the table's own values would read all of it."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(name, name) for name in log_provider_names()]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class ProviderCallInline(admin.TabularInline):
    """The log's provider calls, in the order they were made: read-only, like the log."""

    model = ProviderCall
    verbose_name = "provider call"
    fields = ("attempt", "provider", "started_at", "duration_ms", "outcome", "error", "provider_message_id")
    readonly_fields = fields
    ordering = ("id",)
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(NotificationLog)
class NotificationLogAdmin(admin.ModelAdmin):
    # Short columns, so that the last one is in view at 1400 pixels beside the sidebar and the filters.
    list_display = ("id", "user_id", "type", "status", "template_name", "provider", "attempts", "created", "sent")
    list_filter = ("status", "type", "priority", ("created_at", admin.DateFieldListFilter), ProviderFilter)
    search_fields = ("user_id",)  # shows the search box; get_search_results decides what a term means
    search_help_text = ("Exact match: digits find a user id or a log id; an email address or +E.164 number "
                        "a recipient; anything else a provider's message id.")
    sortable_by = ("id", "created")
    # Fifty rows, not Django's hundred: at 10 million logs the queries of a page take a few milliseconds and
    # drawing its rows most of the rest (Django's rows took 101-127 ms a searched page with a hundred and 85-88 ms
    # with fifty; they are drawn by logs_app/admin_rows.py now, the change list template's `log_result_list`).
    list_per_page = 50
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    inlines = (ProviderCallInline,)
    fieldsets = (
        (None, {"fields": ("user_id", "type", "status", "priority", "recipient")}),
        ("Template", {"fields": ("template", "template_name", "template_version")}),
        ("Message", {"fields": ("subject", "body", "html_body")}),
        ("Delivery", {"fields": ("provider", "provider_message_id", "attempts", "error_message",
                                 "scheduled_for", "queued_at", "sent_at", "delivered_at")}),
        ("Request", {"fields": ("client", "idempotency_key", "notification_metadata", "created_at", "updated_at")}),
    )

    @admin.display(description="created", ordering="created_at")
    def created(self, log: NotificationLog) -> str:
        return moment(log.created_at)

    @admin.display(description="sent")
    def sent(self, log: NotificationLog) -> str:
        return moment(log.sent_at)

    def get_changelist(self, request, **kwargs):
        return IndexedOrderChangeList

    def get_search_results(self, request, queryset, search_term):
        condition = log_search_filter(term=search_term)
        parts = log_search_count_parts(condition)
        request.log_count_parts = [queryset.filter(part) for part in parts] if parts else None
        return (queryset if condition is None else queryset.filter(condition)), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        paginator = super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)
        paginator.count_parts = getattr(request, "log_count_parts", None)
        return paginator

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "exact_total_cap": pagination.EXACT_TOTAL_CAP,
                         "max_offset": pagination.MAX_OFFSET}
        return super().changelist_view(request, extra_context)

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
