"""API keys: djangorestframework-api-key's hashed keys, with the scopes a key is allowed."""

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class Scope(models.TextChoices):
    SEND = "send", "Send notifications"
    READ = "read", "Read logs, templates and preferences"
    MANAGE = "manage", "Manage templates and preferences"


def all_scopes() -> list[str]:
    return list(Scope.values)


class APIKey(AbstractAPIKey):
    """A calling service's key. Only a hash is stored; the key itself is shown once, when made."""

    scopes = models.JSONField(default=all_scopes, help_text="Any of: send, read, manage.")

    class Meta(AbstractAPIKey.Meta):
        db_table = "api_keys"
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])
