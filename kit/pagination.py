"""One page of a query, counted the way both APIs report it (items, total, page, size, pages).

Two ways in. `paginate` counts exactly and slices by offset: for small lists (templates, devices).
`paginate_keyset` serves lists that grow without bound (the delivery log): the total is exact up to
EXACT_TOTAL_CAP and the planner's estimate beyond it, page numbers stop at MAX_OFFSET rows, and every
page hands out a `next_cursor` that continues from its last row through the index, at the cost of one page.
At the end, the REST shapes of a page: its query parameters, its envelope and that envelope's schema.
"""

import base64
import binascii
import datetime as dt
import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Q, QuerySet
from rest_framework import serializers
from rest_framework.response import Response

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# Past this many rows a list's `total` is the planner's estimate (exact counting costs a scan of them all).
EXACT_TOTAL_CAP = 10_000
# A page starting past this many rows is refused: OFFSET reads every row it skips; a cursor reads none.
MAX_OFFSET = 10_000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    size: int
    total_is_estimate: bool = False

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.total else 0


@dataclass(frozen=True)
class KeysetPage(Page[T]):
    next_cursor: str | None = None  # None on the last page


def _check_page(page: int, size: int) -> None:
    errors = {}
    if page < 1:
        errors["page"] = "Must be 1 or more."
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors["size"] = f"Must be between 1 and {MAX_PAGE_SIZE}."
    if errors:
        raise ValidationError(errors)


def paginate(queryset: QuerySet, *, page: int = 1, size: int = DEFAULT_PAGE_SIZE) -> Page:
    """Slice `queryset` to one page; a page past the end is empty, not an error.

    Raises ValidationError for a page below 1 or a size outside 1..MAX_PAGE_SIZE.
    """
    _check_page(page, size)
    total = queryset.count()
    offset = (page - 1) * size
    items = list(queryset[offset : offset + size]) if offset < total else []
    return Page(items=items, total=total, page=page, size=size)


# Counting ---------------------------------------------------------------------------------------


# An estimate is kept this long by each process, for the same query: planning a query over the partitioned log
# (its partitions times their indexes) took 6-9 ms at 10 million logs, a tenth of an admin page, for a figure
# that the statistics behind it change far more slowly than that.
ESTIMATE_SECONDS = 30.0
ESTIMATES_KEPT = 256
_estimates: dict[tuple[str, str, str], tuple[float, int]] = {}


def estimates_forget() -> None:
    """Forget the estimates this process keeps (tests start from none)."""
    _estimates.clear()


def planner_estimate(queryset: QuerySet) -> int | None:
    """The number of rows PostgreSQL's planner expects `queryset` to return (no rows are read);
    None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().query.sql_with_params()
    key = (queryset.db, sql, repr(params))
    now = time.monotonic()
    kept = _estimates.get(key)
    if kept is not None and kept[0] > now:
        return kept[1]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if len(_estimates) >= ESTIMATES_KEPT:
        _estimates.clear()
    _estimates[key] = (now + ESTIMATE_SECONDS, estimate)
    return estimate


def count_capped(queryset: QuerySet) -> tuple[int, bool]:
    """(total, is_estimate): exact up to EXACT_TOTAL_CAP rows (reading at most one more), beyond it
    the planner's estimate (never below what was counted). Where there is no planner estimate (the
    embedded SQLite, small by nature) the count stays exact."""
    counted = queryset.order_by()[: EXACT_TOTAL_CAP + 1].count()
    if counted <= EXACT_TOTAL_CAP:
        return counted, False
    estimate = planner_estimate(queryset)
    if estimate is None:
        return queryset.count(), False
    return max(estimate, counted), True


# Keyset pages -----------------------------------------------------------------------------------

_BAD_CURSOR = "Not a cursor this list gave out; use the next_cursor of an earlier page of the same list."


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _cursor(page: int, row: Any, keys: Sequence[str]) -> str:
    values = [_encode(getattr(row, key.lstrip("-"))) for key in keys]
    return base64.urlsafe_b64encode(json.dumps([page, *values], separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, queryset: QuerySet, keys: Sequence[str]) -> tuple[int, list[Any]]:
    """The page number and key values a cursor carries. Raises ValidationError naming `cursor`."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        page, *raw = data
        if not isinstance(page, int) or isinstance(page, bool) or page < 2 or len(raw) != len(keys):
            raise ValueError
        fields = [queryset.model._meta.get_field(key.lstrip("-")) for key in keys]
        values = [field.to_python(value) for field, value in zip(fields, raw)]
        if any(value is None for value in values):
            raise ValueError
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, ValidationError):
        raise ValidationError({"cursor": _BAD_CURSOR}) from None
    return page, values


def _after(keys: Sequence[str], values: Sequence[Any]) -> Q:
    """The rows that come after `values` in the order of `keys` (each unique together, none null).

    Written as `first <= v AND (first < v OR (first = v AND second < w) ...)`: the leading bound lets
    the index start at the cursor instead of filtering its way there.
    """
    names = [key.lstrip("-") for key in keys]
    ops = ["lt" if key.startswith("-") else "gt" for key in keys]
    later = Q()
    for position, (name, op) in enumerate(zip(names, ops)):
        equal = {names[i]: values[i] for i in range(position)}
        later |= Q(**equal, **{f"{name}__{op}": values[position]})
    return Q(**{f"{names[0]}__{ops[0]}e": values[0]}) & later


def paginate_keyset(queryset: QuerySet, *, keys: Sequence[str], page: int = 1, size: int = DEFAULT_PAGE_SIZE,
                    cursor: str | None = None) -> KeysetPage:
    """One page of `queryset` ordered by `keys` (fields that are unique together and never null, with
    "-" for descending, matching an index), by page number or by a cursor from an earlier page.

    A cursor overrides `page` (it knows its own page number). Raises ValidationError for a bad page or
    size, a page starting past MAX_OFFSET rows (pointing to cursors), or a cursor this list did not give.
    """
    _check_page(page, size)
    queryset = queryset.order_by(*keys)
    if cursor:
        page, values = _decode_cursor(cursor, queryset, keys)
        rows = list(queryset.filter(_after(keys, values))[: size + 1])
    else:
        offset = (page - 1) * size
        if offset >= MAX_OFFSET:
            raise ValidationError({"page": f"Pages starting past row {MAX_OFFSET} are not served: follow "
                                           f"next_cursor (pass it as `cursor`) to read further."})
        rows = list(queryset[offset : offset + size + 1])
    total, estimated = count_capped(queryset)
    items = rows[:size]
    next_cursor = _cursor(page + 1, items[-1], keys) if len(rows) > size else None
    return KeysetPage(items=items, total=total, page=page, size=size, total_is_estimate=estimated,
                      next_cursor=next_cursor)


# REST ------------------------------------------------------------------------------------------

class PageQuerySerializer(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=2**31 - 1, default=1, help_text="Page number, from 1.")
    size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE,
                                    help_text=f"Items per page, at most {MAX_PAGE_SIZE}.")


class KeysetQuerySerializer(PageQuerySerializer):
    """Page parameters of a list that also reads by cursor (one that grows without bound)."""

    page = serializers.IntegerField(
        min_value=1, max_value=2**31 - 1, default=1,
        help_text=f"Page number, from 1; pages starting past row {MAX_OFFSET} are refused (400): use `cursor`.")
    cursor = serializers.CharField(required=False, max_length=500, help_text=(
        "The `next_cursor` of the previous page: continues after its last item at the cost of one page, "
        "however deep. Overrides `page`."))


def page_response(page: Page, output: type[serializers.Serializer] | Callable[[Any], dict[str, Any]]) -> Response:
    """A page in the list envelope; `output` is the items' serializer, or a function giving an item's data."""
    items = output(page.items, many=True).data if isinstance(output, type) else [output(item) for item in page.items]
    body = {"items": items, "total": page.total, "page": page.page, "size": page.size, "pages": page.pages}
    if isinstance(page, KeysetPage):
        body.update(total_is_estimate=page.total_is_estimate, next_cursor=page.next_cursor)
    return Response(body)


@functools.cache
def paginated(output: type[serializers.Serializer], keyset: bool = False) -> type[serializers.Serializer]:
    """The schema of a page of `output` items: the envelope every list answers with (`keyset`: with
    the estimate flag and the next cursor)."""
    name = output.__name__.removesuffix("Serializer")
    fields = {
        "items": output(many=True),
        "total": serializers.IntegerField(help_text="Items across all pages."),
        "page": serializers.IntegerField(),
        "size": serializers.IntegerField(),
        "pages": serializers.IntegerField(help_text="Number of pages; 0 when there are no items."),
    }
    if keyset:
        fields["total"] = serializers.IntegerField(
            help_text=f"Items across all pages: exact up to {EXACT_TOTAL_CAP}, estimated beyond.")
        fields["total_is_estimate"] = serializers.BooleanField(
            help_text=f"True when `total` (and `pages`) is the database's estimate: past {EXACT_TOTAL_CAP} items.")
        fields["next_cursor"] = serializers.CharField(
            allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page.")
    return type(f"Paginated{name}{'Keyset' if keyset else ''}Serializer", (serializers.Serializer,), fields)
