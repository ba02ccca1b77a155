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
