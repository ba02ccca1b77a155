"""Notification templates and the numbered versions of their text."""

from django.db import models


class NotificationType(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push"
    IN_APP = "in_app", "In-app"


class NotificationTemplate(models.Model):
    """A named message for one channel, written in Jinja2.

    `variables` maps each placeholder the template uses to an example value; the admin
    preview and `send_test_notification` render with those examples when no context is given.
    """

    name = models.CharField(max_length=100, unique=True)
    subject = models.CharField(max_length=255, null=True, blank=True)
    body = models.TextField()
    html_body = models.TextField(
        "HTML body",
        blank=True, default="", help_text="Email only: the HTML alternative. Variables are HTML-escaped."
    )
    type = models.CharField(max_length=20, choices=NotificationType.choices)
    variables = models.JSONField(null=True, blank=True, default=dict)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notification_templates"
        ordering = ["name"]
        indexes = [models.Index(fields=["type"], name="ix_notification_templates_type")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(type__in=NotificationType.values), name="notification_templates_type_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """The text of a template as it stood at one version; version N is the text logs sent with N carry."""

    template = models.ForeignKey(NotificationTemplate, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    subject = models.CharField(max_length=255, null=True, blank=True)
    body = models.TextField()
    html_body = models.TextField("HTML body", blank=True, default="")
    variables = models.JSONField(null=True, blank=True, default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        db_table = "notification_template_versions"
        ordering = ["template", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["template", "version"], name="notification_template_versions_unique"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="notification_template_versions_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.template.name} v{self.version}"
