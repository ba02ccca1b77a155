from django.db import migrations, models

from logs_app.migration_operations import AddIndexOnline


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ('logs_app', '0006_triggers'),
    ]

    operations = [
        AddIndexOnline(
            model_name='notificationlog',
            index=models.Index(condition=models.Q(('trigger_id__isnull', False)), fields=['trigger_id', 'user_id'],
                               name='ix_notification_logs_trigger'),
        ),
    ]
