"""GraphQL types, inputs and resolvers for templates, plus the pagination and JSON helpers both lists use."""

import datetime as dt
import enum
import json
from typing import Any

import strawberry
import strawberry_django
from django.core.exceptions import ValidationError
from strawberry import Info

from notifications_project.pagination import DEFAULT_PAGE_SIZE, EXACT_TOTAL_CAP, Page, paginate

from . import models, selectors, services

# Pagination and JSON strings live here because both lists need them and logs_app may depend on
# templates_app (never the reverse); the root schema only wires operations together.


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


NotificationType = strawberry.enum(
    enum.Enum("NotificationType", {choice.name: choice.value for choice in models.NotificationType}),
    description="The channel a template (and a notification) is for.",
)


def _variables(root: strawberry.Parent[models.NotificationTemplate]) -> str | None:
    return json_output(root.variables)


@strawberry_django.type(models.NotificationTemplate, description="A named message for one channel, in Jinja2.")
class NotificationTemplate:
    id: int
    name: str
    subject: str | None
    body: str
    type: NotificationType
    variables: str | None = strawberry_django.field(
        resolver=_variables, description="JSON object: each variable the template uses, with an example value."
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    html_body: str = strawberry_django.field(description="Email only: the HTML alternative.")
    version: int = strawberry_django.field(description="Goes up by one with every change of the text.")


@strawberry.type(description="One page of templates.")
class NotificationTemplateList:
    items: list[NotificationTemplate]
    pagination: PaginationInfo


@strawberry.input
class NotificationTemplateCreateInput:
    name: str
    body: str
    type: NotificationType
    subject: str | None = None
    html_body: str | None = strawberry.field(default=None, description="Email only: the HTML alternative.")
    variables: str | None = strawberry.field(
        default=None,
        description='JSON: {"name": example, ...} or ["name", ...]; omitted, it is read from the placeholders.',
    )


@strawberry.input(description="The fields to change; an omitted field keeps its value.")
class NotificationTemplateUpdateInput:
    name: str | None = strawberry.UNSET
    subject: str | None = strawberry.UNSET
    body: str | None = strawberry.UNSET
    html_body: str | None = strawberry.UNSET
    type: NotificationType | None = strawberry.UNSET
    variables: str | None = strawberry.field(
        default=strawberry.UNSET, description="JSON, as on create; null re-reads the variables from the placeholders."
    )


def _author(info: Info) -> str:
    # The same form the REST API records, so a template's history reads alike whichever door changed it.
    return f"api:{info.context.api_key.prefix}"


def notification_templates(pagination: PaginationInput | None = None,
                           type_filter: str | None = None) -> NotificationTemplateList:
    """Templates by name, one page at a time, optionally of one type (email, sms, push)."""
    page = page_of(selectors.template_list(type=type_filter.lower() if type_filter else None), pagination)
    return NotificationTemplateList(items=list(page.items), pagination=PaginationInfo.from_page(page))


def notification_template(id: int) -> NotificationTemplate | None:
    """One template, or null when there is none with this id."""
    try:
        return selectors.template_get(id=id)
    except models.NotificationTemplate.DoesNotExist:
        return None


def create_notification_template(info: Info, input: NotificationTemplateCreateInput) -> NotificationTemplate:
    """Create a template (version 1)."""
    return services.template_create(
        name=input.name, type=input.type.value, body=input.body, subject=input.subject,
        html_body=input.html_body or "", variables=json_input("variables", input.variables),
        created_by=_author(info),
    )


def update_notification_template(info: Info, id: int,
                                 input: NotificationTemplateUpdateInput) -> NotificationTemplate | None:
    """Change a template; a change of its text makes a new version. Null when there is none with this id."""
    try:
        template = selectors.template_get(id=id)
    except models.NotificationTemplate.DoesNotExist:
        return None
    changes = {field: value for field, value in vars(input).items() if value is not strawberry.UNSET}
    if isinstance(changes.get("type"), enum.Enum):
        changes["type"] = changes["type"].value
    if "variables" in changes:
        changes["variables"] = json_input("variables", changes["variables"])
    if changes.get("html_body", "") is None:
        changes["html_body"] = ""
    return services.template_update(template=template, updated_by=_author(info), **changes)


def delete_notification_template(id: int) -> bool:
    """Delete a template; logs sent with it keep its name. False when there is none with this id."""
    try:
        template = selectors.template_get(id=id)
    except models.NotificationTemplate.DoesNotExist:
        return False
    services.template_delete(template=template)
    return True
