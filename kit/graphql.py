"""What every app's GraphQL schema shares: the page input and page info of lists, JSON carried as strings, and
the extension that tells the read replica's routing a mutation writes."""

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import strawberry
from django.core.exceptions import ValidationError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from .pagination import DEFAULT_PAGE_SIZE, EXACT_TOTAL_CAP, Page, paginate
from .replica import mark_written

T = TypeVar("T")


@strawberry.input(description="Which page of a list to return (page from 1, size from 1 to 100).")
class PaginationInput:
    page: int | None = 1
    size: int | None = DEFAULT_PAGE_SIZE


@strawberry.type(description="Where a page sits in the whole list.")
class PaginationInfo:
    total: int
    page: int
    size: int
    pages: int
    total_is_estimate: bool = strawberry.field(
        description=f"True when total (and pages) is the database's estimate: lists past {EXACT_TOTAL_CAP} items.")

    @classmethod
    def from_page(cls, page: Page) -> "PaginationInfo":
        return cls(total=page.total, page=page.page, size=page.size, pages=page.pages,
                   total_is_estimate=page.total_is_estimate)


def page_of(queryset: Any, pagination: PaginationInput | None) -> Page:
    """One page of `queryset`; an omitted page or size takes the default. Raises ValidationError."""
    pagination = pagination or PaginationInput()
    return paginate(queryset, page=1 if pagination.page is None else pagination.page,
                    size=DEFAULT_PAGE_SIZE if pagination.size is None else pagination.size)


def json_input(field: str, text: str | None) -> Any:
    """The value of a JSON-string argument; None stays None. Raises ValidationError naming `field`."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationError(
            {field: f"Not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}."}
        ) from None


def json_output(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def delete_found(find: Callable[[], T], delete: Callable[[T], object], *, missing: type[Exception]) -> bool:
    """The delete mutations' answer: False when `find` raises `missing` (there is nothing to delete),
    else True once `delete` has deleted what it found."""
    try:
        found = find()
    except missing:
        return False
    delete(found)
    return True


class ReplicaPinExtension(SchemaExtension):
    """A GraphQL mutation counts as a write for kit.replica.ReplicaPinMiddleware. It lives here, not beside the
    middleware, so that what reads from the replica (the export command among them) does not load strawberry."""

    def on_execute(self) -> Iterator[None]:
        if self.execution_context.operation_type == OperationType.MUTATION:
            mark_written()
        yield
