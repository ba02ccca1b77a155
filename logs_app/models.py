"""The delivery log: one row per notification, from acceptance to its final state."""

import uuid

from django.db import models

from templates_app.models import NotificationTemplate, NotificationType


class Index(models.Index):
    """An index whose name may be as long as PostgreSQL allows: the seed's names are part of the contract."""

    max_name_length = 63


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    BOUNCED = "bounced", "Bounced"
    SUPPRESSED = "suppressed", "Suppressed"


FINAL_STATUSES = (
    NotificationStatus.SENT, NotificationStatus.DELIVERED, NotificationStatus.FAILED,
    NotificationStatus.BOUNCED, NotificationStatus.SUPPRESSED,
)


class Priority(models.TextChoices):
    NORMAL = "normal", "Normal"
    URGENT = "urgent", "Urgent (ignores quiet hours)"


class NotificationLog(models.Model):
    """A notification and the audit trail of delivering it.

    The rendered text is kept so that delivery (maybe hours later, after quiet hours) sends
    exactly what was accepted, and so that the log stays readable after its template is gone.
    """

    user_id = models.IntegerField()
    template = models.ForeignKey(NotificationTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="logs", db_index=False)
    template_name = models.CharField(max_length=100, blank=True, default="")
    template_version = models.PositiveIntegerField(null=True, blank=True)
    type = models.CharField(max_length=20, choices=NotificationType.choices)
    status = models.CharField(max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    recipient = models.CharField(max_length=512, blank=True, default="")
    subject = models.TextField(blank=True, default="")
    body = models.TextField(blank=True, default="")
    html_body = models.TextField("HTML body", blank=True, default="")
    provider = models.CharField(max_length=50, blank=True, default="")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    error_message = models.TextField(null=True, blank=True)
    notification_metadata = models.JSONField(null=True, blank=True)
    client = models.CharField(max_length=64, blank=True, default="",
                              help_text="The API key (by prefix) that asked for this notification.")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # Null without a key (and in the rows COPY writes, which never have one): nothing to compare.
    request_hash = models.CharField(max_length=64, null=True, blank=True,
                                    help_text="A digest of the request: a repeated key must come with the same one.")
    scheduled_for = models.DateTimeField(null=True, blank=True,
                                         help_text="Not to be delivered before this moment (send_at, quiet hours, retry backoff).")
    queued_at = models.DateTimeField(null=True, blank=True, help_text="When it was last handed to the queue.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="A worker is delivering it until then; after that it may be claimed again.")
    batch_id = models.UUIDField(null=True, blank=True, help_text="The bulk send it belongs to.")
    trigger_id = models.UUIDField(null=True, blank=True, help_text="The trigger of a kind it belongs to.")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user_id"], name="ix_notification_logs_user_id"),
            # A user's list, newest first, and the cursor that continues it: one index range per page.
            Index(fields=["user_id", "-created_at", "-id"], name="ix_notification_logs_user_recent"),
            models.Index(fields=["status"], name="ix_notification_logs_status"),
            models.Index(fields=["type"], name="ix_notification_logs_type"),
            Index(fields=["created_at"], name="ix_notification_logs_created_at"),
            models.Index(fields=["template"], name="ix_notification_logs_template"),
            # The sweep looks only at pending rows; keep that index as small as the backlog.
            models.Index(fields=["scheduled_for"], name="ix_notification_logs_due",
                         condition=models.Q(status="pending")),
            models.Index(fields=["provider", "provider_message_id"], name="ix_notification_logs_provider"),
            # The admin's search for an address or a phone number, newest first: one index range per page (on
            # recipient alone, a page of a busy address read and sorted every log sent to it).
            Index(fields=["recipient", "-created_at", "-id"], name="ix_notification_logs_recipient_recent"),
            models.Index(fields=["batch_id"], name="ix_notification_logs_batch",
                         condition=models.Q(batch_id__isnull=False)),
            models.Index(fields=["trigger_id", "user_id"], name="ix_notification_logs_trigger",
                         condition=models.Q(trigger_id__isnull=False)),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=NotificationType.values),
                                   name="notification_logs_type_valid"),
            models.CheckConstraint(condition=models.Q(status__in=NotificationStatus.values),
                                   name="notification_logs_status_valid"),
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values),
                                   name="notification_logs_priority_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} to user {self.user_id} ({self.status})"


class IdempotencyKey(models.Model):
    """A single send's idempotency key and the log it made: the unique rule per client lives here, not on the log,
    because on PostgreSQL the log is partitioned by `created_at` and a unique rule there would have to include it
    (so a retry in the next month could send twice). Written in the transaction of the log's INSERT, with the
    log's `created_at`; deleted once past the idempotency window (the purges) or with its log's personal data
    (erasure). Bulk sends and triggers keep their keys on their own rows."""

    client = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    log_id = models.BigIntegerField(help_text="The log the key made (no foreign key: the log may be partitioned).")
    created_at = models.DateTimeField(help_text="The log's creation time.")

    class Meta:
        db_table = "notification_idempotency_keys"
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="notification_idempotency_keys_unique"),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="ix_idempotency_keys_created"),  # the purge past the window
            models.Index(fields=["log_id"], name="ix_idempotency_keys_log"),  # erasure, by the user's logs
        ]

    def __str__(self) -> str:
        return f"Key {self.key!r} of {self.client} (log #{self.log_id})"


class BulkSend(models.Model):
    """A bulk send made with an Idempotency-Key: what a repeat of the key answers, instead of sending again."""

    batch_id = models.UUIDField(primary_key=True)
    client = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, blank=True, default="",
                                    help_text="A digest of the request: a repeated key must come with the same one.")
    accepted = models.PositiveIntegerField()
    suppressed = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_bulk_sends"
        constraints = [
            models.UniqueConstraint(fields=["client", "idempotency_key"], name="notification_bulk_sends_key_unique"),
        ]

    def __str__(self) -> str:
        return f"Bulk send {self.batch_id}"


class Trigger(models.Model):
    """One trigger of a kind for its recipients: each recipient's logs (one per channel) carry its id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.ForeignKey("kinds_app.NotificationKind", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="triggers")
    kind_key = models.CharField(max_length=100, help_text="The kind's key when triggered (kept if it is deleted).")
    client = models.CharField(max_length=64, blank=True, default="")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    request_hash = models.CharField(max_length=64, blank=True, default="",
                                    help_text="A digest of the request: a repeated key must come with the same one.")
    cancellation_key = models.CharField(max_length=255, null=True, blank=True)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    send_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    accepted = models.PositiveIntegerField(default=0)
    suppressed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_triggers"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["client", "idempotency_key"], name="notification_triggers_key_unique",
                                    condition=models.Q(idempotency_key__isnull=False)),
        ]
        indexes = [
            models.Index(fields=["client", "cancellation_key"], name="ix_triggers_cancellation",
                         condition=models.Q(cancellation_key__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"Trigger {self.id} of {self.kind_key}"


class CallOutcome(models.TextChoices):
    """How one call to a provider ended (notification_channels.base.CallOutcome)."""

    SENT = "sent", "Sent"
    TRANSIENT = "transient", "Failed for now"
    TIMEOUT = "timeout", "Timed out"
    PERMANENT = "permanent", "Refused"
    INVALID_RECIPIENT = "invalid_recipient", "Invalid recipient"


class ProviderCall(models.Model):
    """One provider tried for a log: which, when, how long, how it ended (the audit of every attempt).

    An attempt is one pass over the channel's providers in failover order, so an attempt may hold
    several calls (a push log one per device and provider). Written by the delivery stage; removed
    with its log (purge, erasure)."""

    # A plain log id in the database (no FOREIGN KEY): on PostgreSQL the log is partitioned, and its primary key
    # is (id, created_at). Deleted with its log by the purges, erasure and log_partitions.
    log = models.ForeignKey(NotificationLog, on_delete=models.CASCADE, related_name="provider_calls",
                            db_index=False, db_constraint=False)  # indexed by (log, id) below
    attempt = models.PositiveSmallIntegerField(help_text="The log's attempt this call was part of (1 is the first).")
    provider = models.CharField(max_length=50)
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(help_text="How long the provider took to answer, in milliseconds.")
    outcome = models.CharField(max_length=20, choices=CallOutcome.choices)
    error = models.TextField(blank=True, default="", help_text="The provider's reason, when it did not take it.")
    provider_message_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "notification_provider_calls"
        ordering = ["log", "id"]
        indexes = [
            # A log's calls in order, and the purge's deletes by ranges of log ids.
            models.Index(fields=["log", "id"], name="ix_provider_calls_log"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(outcome__in=CallOutcome.values),
                                   name="notification_provider_calls_outcome_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.outcome} (attempt {self.attempt} of log #{self.log_id})"


class LogCount(models.Model):
    """The rollup: how many logs created in `hour` (UTC) are in `status`, per channel and provider, kept by the
    `logs_changed` receiver in logs_app/rollup.py in the writing transaction, so the dashboard and /metrics read
    these few rows instead of the logs. A pending log counts under provider '' (a retry may name one without a
    change of status). Each (hour, channel, provider, status) is spread over a few `shard` rows, summed on read,
    so that concurrent writers seldom wait for one another."""

    hour = models.DateTimeField()
    channel = models.CharField(max_length=20)
    provider = models.CharField(max_length=50, blank=True, default="")
    status = models.CharField(max_length=20, choices=NotificationStatus.choices)
    shard = models.PositiveSmallIntegerField(default=0)
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "notification_log_counts"
        constraints = [
            models.UniqueConstraint(fields=["hour", "channel", "provider", "status", "shard"],
                                    name="notification_log_counts_key"),
        ]
        indexes = [
            # The oldest hour with pending logs (the queue-lag gauge) without reading every hour.
            models.Index(fields=["hour"], name="ix_log_counts_pending_hour", condition=models.Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.channel}/{self.provider or '-'} {self.status}: {self.count}"
