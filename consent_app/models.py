"""The suppression list: addresses and numbers no notification may go to, and why."""

from django.db import models


class SuppressionChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class SuppressionReason(models.TextChoices):
    HARD_BOUNCE = "hard_bounce", "Hard bounce"
    SOFT_BOUNCES = "soft_bounces", "Soft bounces in a row"
    COMPLAINT = "complaint", "Spam complaint"
    SMS_OPT_OUT = "sms_opt_out", "Replied STOP"
    UNDELIVERABLE = "undeliverable", "Undeliverable number"
    MANUAL = "manual", "Added by an operator"


class Suppression(models.Model):
    """An address (lower-cased email, or E.164 number) that sends skip: a send to it is `suppressed`."""

    channel = models.CharField(max_length=10, choices=SuppressionChannel.choices)
    address = models.CharField(max_length=320)
    reason = models.CharField(max_length=20, choices=SuppressionReason.choices)
    detail = models.TextField(blank=True, default="", help_text="What the provider said.")
    source = models.CharField(max_length=50, blank=True, default="",
                              help_text="Who reported it: an ESP, twilio, or the admin.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "suppressions"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="suppressions_channel_address_unique"),
            models.CheckConstraint(condition=models.Q(channel__in=SuppressionChannel.values),
                                   name="suppressions_channel_valid"),
            models.CheckConstraint(condition=models.Q(reason__in=SuppressionReason.values),
                                   name="suppressions_reason_valid"),
        ]
        indexes = [
            # The REST list, newest first, and the cursor that continues it; an address looked up whole.
            models.Index(fields=["-created_at", "-id"], name="ix_suppressions_recent"),
            models.Index(fields=["address"], name="ix_suppressions_address"),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.get_reason_display()})"


class SoftBounceStreak(models.Model):
    """Soft bounces of an address since its last delivery; NOTIFICATION_SOFT_BOUNCE_LIMIT in a row suppress it."""

    address = models.CharField(max_length=320, unique=True)
    count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "suppression_soft_bounces"

    def __str__(self) -> str:
        return f"{self.address}: {self.count} soft bounces"


class ConsentSource(models.TextChoices):
    API = "api", "REST API"
    GRAPHQL = "graphql", "GraphQL API"
    PREFERENCE_PAGE = "preference_page", "Hosted preference page"
    ONE_CLICK = "one_click", "One-click unsubscribe"
    SMS = "sms", "SMS keyword (STOP, START)"
    SUPPRESSION = "suppression", "Suppression list"
    ADMIN = "admin", "Admin"
    INTERNAL = "internal", "Internal (a command or the service itself)"


class ConsentRecord(models.Model):
    """One change of what a user agreed to receive: when, by which door, which choice, from what to what."""

    user_id = models.IntegerField(help_text="0 once the user's data was erased.")
    field = models.CharField(max_length=300, help_text=(
        "A preference (email_enabled, quiet_hours_start, timezone), a choice "
        "(categories.marketing.email, kinds.order_shipped.sms) or a suppression (suppression.email)."))
    old_value = models.CharField(max_length=100, null=True, blank=True, help_text="Empty: not set.")
    new_value = models.CharField(max_length=100, null=True, blank=True, help_text="Empty: not set (forgotten).")
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    detail = models.CharField(max_length=500, blank=True, default="",
                              help_text="What else the door knew: the address suppressed, the keyword texted.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "consent_records"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user_id", "created_at", "id"], name="ix_consent_records_user")]
        constraints = [
            models.CheckConstraint(condition=models.Q(source__in=ConsentSource.values),
                                   name="consent_records_source_valid"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.field} {self.old_value or '-'} -> {self.new_value or '-'}"
