"""Managing webhook endpoints: create, change, delete, rotate the secret (one set of rules for every door)."""

import base64
import datetime as dt
import logging
import secrets
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from .destinations import UnsafeDestination, destination_addresses
from .models import EventType, WebhookEndpoint
from .outbox import client_endpoints_forget

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def endpoint_url_check(url: str) -> str:
    """The URL, trimmed, if a webhook may be sent there. Raises ValidationError naming `url`."""
    url = (url or "").strip()
    if "\x00" in url:
        raise ValidationError({"url": "Null characters are not allowed."})
    try:
        destination_addresses(url)
    except UnsafeDestination as err:
        raise ValidationError({"url": str(err)}) from None
    return url


def _checked_description(description: str | None) -> str:
    if description and "\x00" in description:
        raise ValidationError({"description": "Null characters are not allowed."})
    return description or ""


def _checked_event_types(event_types: Sequence[str] | None) -> list[str]:
    if event_types is None:
        return []
    if isinstance(event_types, str) or not all(isinstance(item, str) for item in event_types):
        raise ValidationError({"event_types": "A list of event types."})
    unknown = [item for item in event_types if item not in EventType.values]
    if unknown:
        raise ValidationError({"event_types": f"Unknown event type {unknown[0]!r}; choose from: "
                                              f"{', '.join(EventType.values)}."})
    return list(dict.fromkeys(event_types))


def endpoint_create(*, client: str, url: str, event_types: Sequence[str] | None = None, description: str = "",
                    include_body: bool = False, enabled: bool = True) -> WebhookEndpoint:
    """Make an endpoint for `client` with a fresh secret (read it from the returned row, once).

    Raises ValidationError naming `url` (malformed, not https, or not a public address) or `event_types`.
    """
    if not client:
        raise ValidationError({"client": "An endpoint belongs to an API key."})
    endpoint = WebhookEndpoint(client=client, url=endpoint_url_check(url), event_types=_checked_event_types(event_types),
                               description=_checked_description(description), include_body=include_body, enabled=enabled,
                               secret=new_secret())
    endpoint.full_clean()
    endpoint.save()
    client_endpoints_forget(client)
    logger.info("webhook endpoint created", extra={"endpoint_id": endpoint.pk, "client": client})
    return endpoint


def endpoint_update(*, endpoint: WebhookEndpoint, **changes: Any) -> WebhookEndpoint:
    """Change any of url, event_types, description, include_body, enabled. Enabling an endpoint
    clears the record of its failures. Raises ValidationError as endpoint_create does."""
    allowed = {"url", "event_types", "description", "include_body", "enabled"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError({name: "Cannot be changed." for name in unknown})
    if "url" in changes:
        changes["url"] = endpoint_url_check(changes["url"])
    if "event_types" in changes:
        changes["event_types"] = _checked_event_types(changes["event_types"])
    if "description" in changes:
        changes["description"] = _checked_description(changes["description"])
    if changes.get("enabled") and (not endpoint.enabled or endpoint.disabled_reason):
        changes.update(failing_since=None, disabled_reason="")
    for name, value in changes.items():
        setattr(endpoint, name, value)
    endpoint.full_clean()
    endpoint.save()
    client_endpoints_forget(endpoint.client)
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint; events waiting for it are dropped with it."""
    logger.info("webhook endpoint deleted", extra={"endpoint_id": endpoint.pk, "client": endpoint.client})
    endpoint.delete()
    client_endpoints_forget(endpoint.client)


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, overlap_seconds: int | None = None) -> WebhookEndpoint:
    """Give the endpoint a new secret; for `overlap_seconds` (WEBHOOK_SECRET_OVERLAP_SECONDS by default)
    the old one signs too, so the receiver can switch without refusing a delivery. Zero ends the old
    secret at once. Raises ValidationError for an overlap outside 0..7 days."""
    if overlap_seconds is None:
        overlap_seconds = settings.WEBHOOK_SECRET_OVERLAP_SECONDS
    if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
        raise ValidationError({"overlap_seconds": f"From 0 to {MAX_OVERLAP_SECONDS} seconds."})
    if overlap_seconds:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = timezone.now() + dt.timedelta(seconds=overlap_seconds)
    else:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    logger.info("webhook endpoint secret rotated", extra={"endpoint_id": endpoint.pk, "client": endpoint.client})
    return endpoint


def endpoint_signing_secrets(endpoint: WebhookEndpoint, *, now: dt.datetime | None = None) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    now = now or timezone.now()
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        keys.append(endpoint.previous_secret)
    return keys
