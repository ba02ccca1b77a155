from django.db import migrations

import logs_app.models
from logs_app.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('logs_app', '0004_bulk_send'),
    ]

    operations = [
        AddIndexOnline(
            model_name='notificationlog',
            index=logs_app.models.Index(fields=['recipient'], name='ix_notification_logs_recipient'),
        ),
    ]
