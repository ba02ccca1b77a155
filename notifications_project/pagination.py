"""One page of a query, counted the way both APIs report it (items, total, page, size, pages)."""

import math
from dataclasses import dataclass
from typing import Generic, Sequence, TypeVar

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.size) if self.total else 0


def paginate(queryset: QuerySet, *, page: int = 1, size: int = DEFAULT_PAGE_SIZE) -> Page:
    """Slice `queryset` to one page; a page past the end is empty, not an error.

    Raises ValidationError for a page below 1 or a size outside 1..MAX_PAGE_SIZE.
    """
    errors = {}
    if page < 1:
        errors["page"] = "Must be 1 or more."
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors["size"] = f"Must be between 1 and {MAX_PAGE_SIZE}."
    if errors:
        raise ValidationError(errors)
    total = queryset.count()
    offset = (page - 1) * size
    items = list(queryset[offset : offset + size]) if offset < total else []
    return Page(items=items, total=total, page=page, size=size)
