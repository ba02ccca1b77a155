"""Notification kinds (`order_shipped`): a category, a critical flag and one template per channel."""

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from django.db import models

from templates_app.models import NotificationTemplate, NotificationType

# Keys appear in URLs, preferences and triggers: lower-case letters, digits, `_`, `-` and `.`.
KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"
KEY_HELP = "Lower-case letters, digits, '_', '-' and '.', starting with a letter or digit."
validate_key = RegexValidator(KEY_PATTERN, f"Not a valid key: {KEY_HELP}")
no_nul = ProhibitNullCharactersValidator()  # PostgreSQL text cannot hold U+0000


class Category(models.Model):
    """A group of kinds a user may turn off as a whole (`marketing`, `security`, ...)."""

    key = models.CharField(max_length=50, unique=True, validators=[validate_key], help_text=KEY_HELP)
    name = models.CharField(max_length=100, validators=[no_nul])
    description = models.TextField(blank=True, default="", validators=[no_nul])
    enabled_by_default = models.BooleanField(
        default=True, help_text="Whether a user who never chose for this category receives its kinds.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_categories"
        ordering = ["key"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.key


class NotificationKind(models.Model):
    """What a trigger names: one kind of message, sent on every channel it has a template for."""

    key = models.CharField(max_length=100, unique=True, validators=[validate_key], help_text=KEY_HELP)
    name = models.CharField(max_length=200, validators=[no_nul])
    description = models.TextField(blank=True, default="", validators=[no_nul])
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="kinds")
    critical = models.BooleanField(
        default=False, help_text="Reaches users who opted out of its category or channel (quiet hours still apply).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_kinds"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class KindTemplate(models.Model):
    """The template a kind sends on one channel; the template's type is that channel."""

    kind = models.ForeignKey(NotificationKind, on_delete=models.CASCADE, related_name="channel_templates")
    channel = models.CharField(max_length=20, choices=NotificationType.choices)
    # Deleting a template takes it off the kinds that used it; their other channels stay.
    template = models.ForeignKey(NotificationTemplate, on_delete=models.CASCADE, related_name="kind_channels")

    class Meta:
        db_table = "notification_kind_templates"
        ordering = ["kind", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "channel"], name="notification_kind_templates_one_per_channel"),
            models.CheckConstraint(condition=models.Q(channel__in=NotificationType.values),
                                   name="notification_kind_templates_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind.key} / {self.channel}: {self.template.name}"


class Topic(models.Model):
    """A named list of users (`project-42-watchers`) a trigger may name as recipients."""

    key = models.CharField(max_length=200, unique=True, validators=[validate_key], help_text=KEY_HELP)
    name = models.CharField(max_length=200, blank=True, default="", validators=[no_nul])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_topics"
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class TopicSubscription(models.Model):
    """One user on a topic's list."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    user_id = models.IntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "notification_topic_subscriptions"
        ordering = ["topic", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["topic", "user_id"], name="notification_topic_subscriptions_unique"),
            models.CheckConstraint(condition=models.Q(user_id__gte=1), name="notification_topic_subscriptions_user"),
        ]
        indexes = [models.Index(fields=["user_id"], name="ix_topic_subscriptions_user")]

    def __str__(self) -> str:
        return f"user {self.user_id} on {self.topic.key}"
