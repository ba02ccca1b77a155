"""GraphQL types, inputs and resolvers for a client's webhook endpoints (wired in the root schema)."""

import datetime as dt
import enum

import strawberry
import strawberry_django
from strawberry import Info

from kit.graphql import PaginationInfo, PaginationInput, page_of

from . import models, selectors, services

WebhookEventType = strawberry.enum(
    enum.Enum("WebhookEventType", {choice.name: choice.value for choice in models.EventType}),
    description="What happened to a notification: the `type` of an event.",
)


def _event_types(root: strawberry.Parent[models.WebhookEndpoint]) -> list[WebhookEventType]:
    return [WebhookEventType(value) for value in root.event_types]


@strawberry_django.type(models.WebhookEndpoint, description="A URL that receives this API key's notification events.")
class WebhookEndpoint:
    id: int
    url: str
    description: str
    event_types: list[WebhookEventType] = strawberry_django.field(
        resolver=_event_types, description="The event types it receives; empty: every type.")
    include_body: bool = strawberry_django.field(description="Events carry the message's subject and body.")
    enabled: bool
    disabled_reason: str = strawberry_django.field(description="Why delivery turned it off, if it did.")
    failing_since: dt.datetime | None
    previous_secret_expires_at: dt.datetime | None = strawberry_django.field(
        description="Until then the secret before the last rotation signs too.")
    created_at: dt.datetime
    updated_at: dt.datetime


@strawberry.type(description="An endpoint and its signing secret, shown only in this answer.")
class WebhookEndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str


@strawberry.type(description="One page of webhook endpoints.")
class WebhookEndpointList:
    items: list[WebhookEndpoint]
    pagination: PaginationInfo


@strawberry.input
class WebhookEndpointCreateInput:
    url: str = strawberry.field(description="https, at a public address (checked again at every delivery).")
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The event types it wants; omitted or empty: every type.")
    description: str | None = None
    include_body: bool | None = False
    enabled: bool | None = True


@strawberry.input(description="The fields to change; an omitted field keeps its value.")
class WebhookEndpointUpdateInput:
    url: str | None = strawberry.UNSET
    event_types: list[WebhookEventType] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    include_body: bool | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


def _client(info: Info) -> str:
    return info.context.api_key.prefix


def _values(event_types: list[WebhookEventType] | None) -> list[str]:
    return [item.value for item in event_types or []]


def _endpoint(info: Info, id: int) -> models.WebhookEndpoint | None:
    try:
        return selectors.endpoint_get(id=id, client=_client(info))
    except models.WebhookEndpoint.DoesNotExist:
        return None


def webhook_endpoints(info: Info, pagination: PaginationInput | None = None) -> WebhookEndpointList:
    """This API key's webhook endpoints, one page at a time."""
    page = page_of(selectors.endpoint_list(client=_client(info)), pagination)
    return WebhookEndpointList(items=list(page.items), pagination=PaginationInfo.from_page(page))


def webhook_endpoint(info: Info, id: int) -> WebhookEndpoint | None:
    """One of this API key's webhook endpoints, or null."""
    return _endpoint(info, id)


def create_webhook_endpoint(info: Info, input: WebhookEndpointCreateInput) -> WebhookEndpointWithSecret:
    """Make a webhook endpoint; the answer carries its signing secret, shown only now."""
    endpoint = services.endpoint_create(
        client=_client(info), url=input.url, event_types=_values(input.event_types),
        description=input.description or "", include_body=bool(input.include_body),
        enabled=input.enabled is not False)
    return WebhookEndpointWithSecret(endpoint=endpoint, secret=endpoint.secret)


def update_webhook_endpoint(info: Info, id: int, input: WebhookEndpointUpdateInput) -> WebhookEndpoint | None:
    """Change a webhook endpoint; enabling it forgets its failures. Null when there is none with this id."""
    endpoint = _endpoint(info, id)
    if endpoint is None:
        return None
    changes = {name: value for name, value in vars(input).items() if value is not strawberry.UNSET}
    if "event_types" in changes:
        changes["event_types"] = _values(changes["event_types"])
    for flag in ("include_body", "enabled"):
        if flag in changes and changes[flag] is None:
            del changes[flag]
    return services.endpoint_update(endpoint=endpoint, **changes)


def delete_webhook_endpoint(info: Info, id: int) -> bool:
    """Delete a webhook endpoint. False when there is none with this id."""
    endpoint = _endpoint(info, id)
    if endpoint is None:
        return False
    services.endpoint_delete(endpoint=endpoint)
    return True


def rotate_webhook_endpoint_secret(info: Info, id: int,
                                   overlap_seconds: int | None = None) -> WebhookEndpointWithSecret | None:
    """A new signing secret; the old one signs too for `overlapSeconds` (24 h by default). Null when there is none."""
    endpoint = _endpoint(info, id)
    if endpoint is None:
        return None
    endpoint = services.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=overlap_seconds)
    return WebhookEndpointWithSecret(endpoint=endpoint, secret=endpoint.secret)
