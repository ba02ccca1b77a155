"""API keys: djangorestframework-api-key's hashed keys, with the scopes a key is allowed."""

from typing import Any

from django.db import models
from django.dispatch import Signal
from rest_framework_api_key.models import AbstractAPIKey, APIKeyManager


class Scope(models.TextChoices):
    SEND = "send", "Send notifications"
    READ = "read", "Read logs, templates and preferences"
    MANAGE = "manage", "Manage templates and preferences"


def all_scopes() -> list[str]:
    return list(Scope.values)


# Sent (prefixes=[...]) after a queryset update changed these keys; apikeys_app.services clears their cache entries.
keys_updated = Signal()


class APIKeyQuerySet(models.QuerySet):
    """`update()` clears the changed keys' cache entries, as saving one key does: `update(revoked=True)`
    refuses the keys from the next request on, not after the cache's TTL."""

    def update(self, **kwargs: Any) -> int:
        prefixes = list(self.values_list("prefix", flat=True))
        count = super().update(**kwargs)
        keys_updated.send(sender=self.model, prefixes=prefixes)
        return count


class APIKey(AbstractAPIKey):
    """A calling service's key. Only a hash is stored; the key itself is shown once, when made."""

    objects = APIKeyManager.from_queryset(APIKeyQuerySet)()
    scopes = models.JSONField(default=all_scopes, help_text="Any of: send, read, manage.")

    class Meta(AbstractAPIKey.Meta):
        db_table = "api_keys"
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])
