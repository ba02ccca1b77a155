"""Reading the suppression list: is an address on it, which of many are, and the operator's list."""

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet

from kit.lookups import AnyOf
from kit.pagination import DEFAULT_PAGE_SIZE, KeysetPage, paginate_keyset

from .models import Suppression, SuppressionChannel, SuppressionReason

SUPPRESSED = "Suppressed: {address} is on the suppression list ({reason})."
_CHANNELS = frozenset(SuppressionChannel.values)
_REASON_LABELS = {value: str(label).lower() for value, label in SuppressionReason.choices}


def normalize_address(channel: str, address: str) -> str:
    """The form an address is listed in: emails lower-cased (mailboxes rarely differ by case, and a bounce
    may report another case than the send used), numbers as given (E.164)."""
    address = (address or "").strip()
    return address.lower() if channel == SuppressionChannel.EMAIL else address


def suppressed_among(*, channel: str, addresses: Iterable[str]) -> dict[str, str]:
    """{address as given: why it is suppressed} for those of `addresses` on the list (one query)."""
    if channel not in _CHANNELS:
        return {}
    by_normal: dict[str, list[str]] = {}
    for address in addresses:
        if address:
            by_normal.setdefault(normalize_address(channel, address), []).append(address)
    if not by_normal:
        return {}
    found = {}
    for normal, reason in (Suppression.objects.filter(AnyOf(F("address"), by_normal), channel=channel)
                           .values_list("address", "reason")):
        for address in by_normal[normal]:
            found[address] = SUPPRESSED.format(address=address, reason=_REASON_LABELS.get(reason, reason))
    return found


_REASON_OF = f"SELECT reason FROM {Suppression._meta.db_table} WHERE channel = %s AND address = %s"


def suppression_reason(*, channel: str, address: str) -> str | None:
    """Why a send to this address is suppressed, or None when it may go.

    Every single send asks, so the lookup is a statement written once, not a queryset: the ORM spent three
    times longer building this query than the send's INSERT took (a quarter of a send's CPU)."""
    normal = normalize_address(channel, address)
    if channel not in _CHANNELS or not normal:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_REASON_OF, [channel, normal])
        row = cursor.fetchone()
    return None if row is None else SUPPRESSED.format(address=address, reason=_REASON_LABELS.get(row[0], row[0]))


# Newest first; the (created_at, id) index serves the list and the cursor that continues it.
LIST_ORDER = ("-created_at", "-id")


def suppression_list(*, channel: str | None = None, search: str = "", address: str = "",
                     reason: str | None = None) -> QuerySet[Suppression]:
    """The suppression list, newest first; `search` matches part of the address, `address` the whole of it
    (an email in any case)."""
    suppressions = Suppression.objects.all()
    if channel:
        suppressions = suppressions.filter(channel=channel)
    if reason:
        suppressions = suppressions.filter(reason=reason)
    if address:
        address = address.strip()
        suppressions = suppressions.filter(address__in={address, address.lower()})
    if search:
        suppressions = suppressions.filter(Q(address__icontains=search.strip()))
    return suppressions.order_by(*LIST_ORDER)


def suppression_page(*, page: int = 1, size: int = DEFAULT_PAGE_SIZE, cursor: str | None = None,
                     **filters: Any) -> KeysetPage:
    """One page of the suppression list (filters as suppression_list), by page number or by cursor."""
    return paginate_keyset(suppression_list(**filters), keys=LIST_ORDER, page=page, size=size, cursor=cursor)
