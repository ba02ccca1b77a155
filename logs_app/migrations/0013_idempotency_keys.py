"""Single sends' idempotency keys move to a table of their own, so the log can be partitioned by `created_at`
(a unique rule on a partitioned table must include the partition key). The keys of the last two days (the window
is one) are copied in one INSERT ... SELECT through the creation-time index; then the log's unique rule goes."""

import datetime as dt

from django.db import migrations, models
from django.utils import timezone


def copy_recent_keys(apps, schema_editor):
    logs = apps.get_model("logs_app", "NotificationLog")._meta.db_table
    keys = apps.get_model("logs_app", "IdempotencyKey")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {keys} (client, key, log_id, created_at) "
                       f"SELECT client, idempotency_key, id, created_at FROM {logs} "
                       f"WHERE idempotency_key IS NOT NULL AND created_at >= %s",
                       [timezone.now() - dt.timedelta(days=2)])


class Migration(migrations.Migration):

    dependencies = [
        ('logs_app', '0012_sends_keep_a_digest_of_their_request'),
    ]

    operations = [
        migrations.CreateModel(
            name='IdempotencyKey',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('client', models.CharField(max_length=64)),
                ('key', models.CharField(max_length=255)),
                ('log_id', models.BigIntegerField(help_text='The log the key made (no foreign key: the log may be partitioned).')),
                ('created_at', models.DateTimeField(help_text="The log's creation time.")),
            ],
            options={
                'db_table': 'notification_idempotency_keys',
                'indexes': [models.Index(fields=['created_at'], name='ix_idempotency_keys_created'), models.Index(fields=['log_id'], name='ix_idempotency_keys_log')],
                'constraints': [models.UniqueConstraint(fields=('client', 'key'), name='notification_idempotency_keys_unique')],
            },
        ),
        migrations.RunPython(copy_recent_keys, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='notificationlog',
            name='notification_logs_idempotency_unique',
        ),
    ]
