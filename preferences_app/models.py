"""A user's channel preferences, quiet hours, timezone, and where to reach them."""

import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from phonenumber_field.modelfields import PhoneNumberField
from phonenumber_field.phonenumber import PhoneNumber

from notification_channels.push import device_token_problem
from templates_app.models import NotificationType


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA timezone name (such as 'Europe/Berlin').") from None


# User ids are the calling system's; the seed stores them as INTEGER, and 0 marks an erased user.
USER_ID_MAX = 2**31 - 1


def is_user_id(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= USER_ID_MAX


class UserPreference(models.Model):
    """One row per user (created with defaults on first read): what they accept, when, and where."""

    user_id = models.IntegerField(unique=True)
    email_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField("SMS enabled", default=True)
    push_enabled = models.BooleanField(default=True)
    # A database default too: bulk writers that list the columns they set (COPY, raw INSERTs) leave it out.
    in_app_enabled = models.BooleanField(default=True, db_default=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    email = models.EmailField(blank=True, default="")
    phone_number = PhoneNumberField(blank=True, default="", help_text="E.164, for example +4915112345678.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_preferences"
        ordering = ["user_id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(user_id__gte=1), name="user_preferences_user_id_positive"),
            models.CheckConstraint(
                condition=models.Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | models.Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="user_preferences_quiet_hours_both_or_neither",
            ),
        ]

    def __str__(self) -> str:
        return f"Preferences of user {self.user_id}"

    def channel_enabled(self, channel: str) -> bool:
        return getattr(self, f"{channel}_enabled")

    @property
    def phone_e164(self) -> str:
        """The number on file as E.164, or "" (str() of the number would check its validity first, which
        costs more than a whole cached read of the row; numbers are checked when they are saved)."""
        phone = self.phone_number
        if not isinstance(phone, PhoneNumber):
            return ""
        return phone.as_e164 if phone.country_code else phone.raw_input


class DevicePlatform(models.TextChoices):
    IOS = "ios", "iOS (APNs)"
    ANDROID = "android", "Android (FCM)"


class Device(models.Model):
    """A push token of one of the user's devices; deactivated when the provider says it is gone."""

    preference = models.ForeignKey(UserPreference, on_delete=models.CASCADE, related_name="devices")
    platform = models.CharField(max_length=10, choices=DevicePlatform.choices)
    token = models.CharField(max_length=512)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_devices"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "token"], name="user_devices_platform_token_unique"),
            models.CheckConstraint(condition=models.Q(platform__in=DevicePlatform.values),
                                   name="user_devices_platform_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} …{self.token[-8:]}"

    def clean(self) -> None:
        """A token must be one of its platform's (the push channel's rule), whichever door registers it: a token
        the platform would refuse makes every push to the user fail."""
        if self.platform in DevicePlatform.values and (problem := device_token_problem(self.platform, self.token)):
            raise ValidationError({"token": f"{problem}."})


class NotificationSetting(models.Model):
    """A user's choice for one channel of a category or of one kind: on or off.

    The most specific choice wins: a kind's over its category's over the plain channel switch.
    """

    preference = models.ForeignKey(UserPreference, on_delete=models.CASCADE, related_name="notification_settings")
    category = models.ForeignKey("kinds_app.Category", null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="user_settings")
    kind = models.ForeignKey("kinds_app.NotificationKind", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="user_settings")
    channel = models.CharField(max_length=20, choices=NotificationType.choices)
    enabled = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_notification_settings"
        ordering = ["preference", "category", "kind", "channel"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(category__isnull=False, kind__isnull=True)
                | models.Q(category__isnull=True, kind__isnull=False),
                name="user_notification_settings_category_xor_kind",
            ),
            models.UniqueConstraint(fields=["preference", "category", "channel"], condition=models.Q(kind__isnull=True),
                                    name="user_notification_settings_one_per_category_channel"),
            models.UniqueConstraint(fields=["preference", "kind", "channel"], condition=models.Q(category__isnull=True),
                                    name="user_notification_settings_one_per_kind_channel"),
            models.CheckConstraint(condition=models.Q(channel__in=NotificationType.values),
                                   name="user_notification_settings_channel_valid"),
        ]

    def __str__(self) -> str:
        target = f"category {self.category}" if self.category_id else f"kind {self.kind}"
        return f"{target}, {self.channel}: {'on' if self.enabled else 'off'}"
