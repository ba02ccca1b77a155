"""Reading webhook endpoints, as their owner (a client) or an operator sees them."""

from django.db.models import QuerySet

from .models import WebhookEndpoint


def endpoint_list(*, client: str | None = None) -> QuerySet[WebhookEndpoint]:
    """The client's endpoints by id (every endpoint when `client` is None: the admin)."""
    queryset = WebhookEndpoint.objects.order_by("id")
    return queryset if client is None else queryset.filter(client=client)


def endpoint_get(*, id: int, client: str | None = None) -> WebhookEndpoint:
    """One endpoint; another client's is as missing as one that never was. Raises WebhookEndpoint.DoesNotExist."""
    return endpoint_list(client=client).get(pk=id)
