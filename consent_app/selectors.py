"""Reading the suppression list: is an address on it, which of many are, and the operator's list."""

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from .models import Suppression, SuppressionChannel

SUPPRESSED = "Suppressed: {address} is on the suppression list ({reason})."
_CHANNELS = frozenset(SuppressionChannel.values)


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
    for normal, reason in (Suppression.objects.filter(channel=channel, address__in=list(by_normal))
                           .values_list("address", "reason")):
        label = Suppression(reason=reason).get_reason_display().lower()
        for address in by_normal[normal]:
            found[address] = SUPPRESSED.format(address=address, reason=label)
    return found


def suppression_reason(*, channel: str, address: str) -> str | None:
    """Why a send to this address is suppressed, or None when it may go."""
    return suppressed_among(channel=channel, addresses=[address]).get(address)


def suppression_list(*, channel: str | None = None, search: str = "") -> QuerySet[Suppression]:
    """The suppression list, newest first; `search` matches part of the address."""
    suppressions = Suppression.objects.all()
    if channel:
        suppressions = suppressions.filter(channel=channel)
    if search:
        suppressions = suppressions.filter(Q(address__icontains=search.strip()))
    return suppressions.order_by("-created_at", "-id")
