"""The recipient index takes the list's order, (recipient, created_at DESC, id DESC), so that a page of a busy
address's logs reads that page only. Built online, partition by partition (logs_app/migration_operations.py);
the old index, which the new one covers, is then dropped: a moment's lock on the log."""

from django.db import migrations

import logs_app.models
from logs_app.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('logs_app', '0015_partition_the_log'),
    ]

    operations = [
        AddIndexOnline(
            model_name='notificationlog',
            index=logs_app.models.Index(fields=['recipient', '-created_at', '-id'],
                                        name='ix_notification_logs_recipient_recent'),
        ),
        migrations.RemoveIndex(
            model_name='notificationlog',
            name='ix_notification_logs_recipient',
        ),
    ]
