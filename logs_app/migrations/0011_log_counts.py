"""The rollup of the delivery log (logs_app/rollup.py), filled from the logs already there."""

import datetime as dt

from django.db import migrations, models
from django.db.models import Case, CharField, Count, F, Value, When
from django.db.models.functions import TruncHour


def fill_from_logs(apps, schema_editor):
    """One grouped count of the existing logs (a pass over the table; `manage.py log_counts_check --repair --all`
    does the same later, a day at a time, for logs written by the old code while this ran)."""
    log_model, count_model = apps.get_model("logs_app", "NotificationLog"), apps.get_model("logs_app", "LogCount")
    rows = (log_model.objects.using(schema_editor.connection.alias)
            .annotate(bucket=TruncHour("created_at", tzinfo=dt.timezone.utc),
                      counted=Case(When(status="pending", then=Value("")), default=F("provider"),
                                   output_field=CharField()))
            .values("bucket", "type", "counted", "status").annotate(n=Count("id")).order_by())
    count_model.objects.using(schema_editor.connection.alias).bulk_create(
        (count_model(hour=row["bucket"], channel=row["type"], provider=row["counted"], status=row["status"], shard=0,
                     count=row["n"]) for row in rows), batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('logs_app', '0010_in_app_channel'),
    ]

    operations = [
        migrations.CreateModel(
            name='LogCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('hour', models.DateTimeField()),
                ('channel', models.CharField(max_length=20)),
                ('provider', models.CharField(blank=True, default='', max_length=50)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('delivered', 'Delivered'), ('failed', 'Failed'), ('bounced', 'Bounced'), ('suppressed', 'Suppressed')], max_length=20)),
                ('shard', models.PositiveSmallIntegerField(default=0)),
                ('count', models.BigIntegerField(default=0)),
            ],
            options={
                'db_table': 'notification_log_counts',
                'indexes': [models.Index(condition=models.Q(('status', 'pending')), fields=['hour'], name='ix_log_counts_pending_hour')],
                'constraints': [models.UniqueConstraint(fields=('hour', 'channel', 'provider', 'status', 'shard'), name='notification_log_counts_key')],
            },
        ),
        migrations.RunPython(fill_from_logs, migrations.RunPython.noop),
    ]
