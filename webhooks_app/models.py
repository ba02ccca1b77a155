"""Outbound webhook endpoints: where a calling service hears what happened to its notifications."""

from django.db import models


class EventType(models.TextChoices):
    ACCEPTED = "notification.accepted", "Accepted (a log was written)"
    SENT = "notification.sent", "Sent (a provider took it)"
    DELIVERED = "notification.delivered", "Delivered (the provider confirmed it)"
    BOUNCED = "notification.bounced", "Bounced"
    FAILED = "notification.failed", "Failed"
    SUPPRESSED = "notification.suppressed", "Suppressed (by preference or erasure)"
    READ = "notification.read", "Read (in-app inbox)"
    SEEN = "notification.seen", "Seen (in-app inbox)"
    ARCHIVED = "notification.archived", "Archived (in-app inbox)"


class WebhookEndpoint(models.Model):
    """A URL that receives the events of one client's notifications, signed with its secret.

    The secret must be kept as it is (it keys the HMAC); it is shown to the client only when made or
    rotated. During a rotation's overlap, `previous_secret` signs too, so a receiver may switch keys
    at its own pace.
    """

    client = models.CharField(max_length=64, help_text="The API key (by prefix) that owns the endpoint and "
                                                       "whose notifications it hears of.")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=255, blank=True, default="")
    event_types = models.JSONField(default=list, blank=True,
                                   help_text="The event types it wants; an empty list means every type.")
    include_body = models.BooleanField(default=False, help_text="Events carry the message's subject and body.")
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True,
                                                      help_text="Until then the previous secret signs too.")
    failing_since = models.DateTimeField(null=True, blank=True,
                                         help_text="First failure of the current run of failures.")
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "webhook_endpoints"
        ordering = ["id"]
        verbose_name = "webhook endpoint"
        indexes = [models.Index(fields=["client"], name="ix_webhook_endpoints_client")]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types
