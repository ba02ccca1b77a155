"""Read queries on categories and kinds shared by the REST API, GraphQL and the admin."""

from django.db.models import Prefetch, QuerySet

from .models import Category, KindTemplate, NotificationKind


def category_list(*, search: str | None = None) -> QuerySet[Category]:
    """Categories by key, optionally whose key or name contains `search`."""
    queryset = Category.objects.order_by("key")
    if search:
        queryset = queryset.filter(key__icontains=search) | queryset.filter(name__icontains=search)
    return queryset


def category_get(*, id: int | None = None, key: str | None = None) -> Category:
    """One category by id or key. Raises Category.DoesNotExist."""
    if id is not None:
        return Category.objects.get(pk=id)
    return Category.objects.get(key=key)


def _with_templates(queryset: QuerySet[NotificationKind]) -> QuerySet[NotificationKind]:
    links = KindTemplate.objects.select_related("template").order_by("channel")
    return queryset.select_related("category").prefetch_related(Prefetch("channel_templates", queryset=links))


def kind_list(*, category: str | None = None, search: str | None = None) -> QuerySet[NotificationKind]:
    """Kinds by key with their category and channel templates, optionally of one category (by key)
    and/or whose key or name contains `search`."""
    queryset = NotificationKind.objects.order_by("key")
    if category:
        queryset = queryset.filter(category__key=category)
    if search:
        queryset = queryset.filter(key__icontains=search) | queryset.filter(name__icontains=search)
    return _with_templates(queryset)


def kind_get(*, id: int | None = None, key: str | None = None) -> NotificationKind:
    """One kind by id or key, with its category and channel templates. Raises NotificationKind.DoesNotExist."""
    queryset = _with_templates(NotificationKind.objects.all())
    if id is not None:
        return queryset.get(pk=id)
    return queryset.get(key=key)
