"""The feed: one row per in-app message, and one counter row per user kept in step with it."""

from django.db import models


class FeedMessage(models.Model):
    """An in-app message in one user's feed, written when its log is delivered.

    `seen_at` is set when the user opened the feed with it in view, `read_at` when they read it (which
    sees it too), `archived_at` when they put it away; archived messages count as neither unread nor unseen.
    """

    user_id = models.IntegerField()
    log_id = models.BigIntegerField(null=True, blank=True, unique=True,
                                    help_text="The delivery log that wrote it (a log writes one message, once).")
    kind = models.CharField(max_length=100, blank=True, default="")
    category = models.CharField(max_length=50, blank=True, default="")
    title = models.TextField(blank=True, default="")
    body = models.TextField(blank=True, default="", help_text="The text as rendered (Markdown).")
    body_html = models.TextField(blank=True, default="", help_text="The body as sanitised HTML.")
    action_url = models.CharField(max_length=2048, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "inbox_messages"
        ordering = ["-id"]
        indexes = [
            # A user's feed newest first (ids grow with time), and the cursor that continues it.
            models.Index(fields=["user_id", "-id"], name="ix_inbox_messages_user"),
            # The unread ones alone, for the unread filter and "mark all read" at users with long feeds.
            models.Index(fields=["user_id", "-id"], name="ix_inbox_messages_unread",
                         condition=models.Q(read_at__isnull=True, archived_at__isnull=True)),
            # Retention walks the old read or archived messages.
            models.Index(fields=["created_at"], name="ix_inbox_messages_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(user_id__gte=1), name="inbox_messages_user_id_positive"),
        ]

    def __str__(self) -> str:
        return f"In-app message #{self.pk} for user {self.user_id}"

    @property
    def counts_unread(self) -> bool:
        return self.read_at is None and self.archived_at is None

    @property
    def counts_unseen(self) -> bool:
        return self.seen_at is None and self.archived_at is None


class FeedCounter(models.Model):
    """A user's unread and unseen counts, changed in the transaction of every change to their feed, so
    reading them is one row however long the feed grows."""

    user_id = models.IntegerField(primary_key=True)
    unread = models.IntegerField(default=0)
    unseen = models.IntegerField(default=0)

    class Meta:
        db_table = "inbox_counters"
        constraints = [
            models.CheckConstraint(condition=models.Q(unread__gte=0), name="inbox_counters_unread_not_negative"),
            models.CheckConstraint(condition=models.Q(unseen__gte=0), name="inbox_counters_unseen_not_negative"),
        ]

    def __str__(self) -> str:
        return f"User {self.user_id}: {self.unread} unread, {self.unseen} unseen"
