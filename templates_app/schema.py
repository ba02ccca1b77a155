"""GraphQL types, inputs and resolvers for templates."""

import datetime as dt
import enum

import strawberry
import strawberry_django
from strawberry import Info

from kit.graphql import PaginationInfo, PaginationInput, delete_found, json_input, json_output, page_of

from . import models, selectors, services

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
    name: str = strawberry.field(description=services.TEMPLATE_NAME_RULE)
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
    name: str | None = strawberry.field(default=strawberry.UNSET, description=services.TEMPLATE_NAME_RULE)
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
    return delete_found(lambda: selectors.template_get(id=id),
                        lambda template: services.template_delete(template=template),
                        missing=models.NotificationTemplate.DoesNotExist)
