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


class EventStatus(models.TextChoices):
    PENDING = "pending", "Pending (waiting for its next attempt)"
    DELIVERED = "delivered", "Delivered (the endpoint answered 2xx)"
    FAILED = "failed", "Failed (gave up after the last retry)"


class WebhookEvent(models.Model):
    """The outbox: one event for one endpoint, written in the transaction of the change it tells of, and
    delivered from here (at least once; every attempt carries the same `webhook_id`)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="events", db_index=False)
    webhook_id = models.CharField(max_length=40, unique=True,
                                  help_text="The `webhook-id` header of every attempt: the receiver's de-duplication key.")
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    log_id = models.BigIntegerField(help_text="The notification log the event is about.")
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=EventStatus.choices, default=EventStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="Not attempted before this moment (the retry backoff).")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it was last handed to the queue.")
    lease_expires_at = models.DateTimeField(null=True, blank=True,
                                            help_text="A worker is delivering it until then.")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webhook_events"
        ordering = ["-id"]
        verbose_name = "webhook event"
        indexes = [
            models.Index(fields=["endpoint", "created_at"], name="ix_webhook_events_endpoint"),
            # The sweep looks only at pending events; the index stays as small as the backlog.
            models.Index(fields=["next_attempt_at"], name="ix_webhook_events_due",
                         condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.webhook_id}"


class WebhookAttempt(models.Model):
    """One try at delivering an event: what the endpoint answered (or why nothing was sent), and how fast."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_set")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts", db_index=False)
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True,
                                                   help_text="The HTTP status answered; empty when none came.")
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "webhook_attempts"
        ordering = ["-id"]
        verbose_name = "webhook attempt"
        indexes = [models.Index(fields=["endpoint", "-id"], name="ix_webhook_attempts_endpoint")]

    def __str__(self) -> str:
        return f"{self.status_code or self.error[:40]} in {self.latency_ms} ms"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
