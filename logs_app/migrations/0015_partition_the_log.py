"""On PostgreSQL the delivery log becomes range-partitioned by created_at (logs_app/partitions.py), without copying
a row (logs_app/migration_operations.partition_in_place): the existing table becomes the partition of everything
before a boundary T (the start of the period after tomorrow's), and a new partitioned table takes its name. Then
the partitions from T on are made ahead. The embedded SQLite default keeps its plain table: nothing runs there.
Not reversible (a partitioned table would have to be copied back into one)."""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.utils import timezone

from logs_app.migration_operations import partition_in_place


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    from logs_app.partitions import partitions_create_ahead, period_after, period_start

    period = settings.LOG_PARTITION_PERIOD
    switch = period_after(period_start(timezone.now() + dt.timedelta(days=1), period), period)
    partition_in_place(schema_editor, apps.get_model("logs_app", "NotificationLog"), key="created_at", switch=switch)
    partitions_create_ahead(now=switch, ahead=settings.LOG_PARTITIONS_AHEAD, period=period)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('logs_app', '0014_provider_calls_keep_a_plain_log_id'),
    ]

    operations = [
        migrations.RunPython(partition, elidable=False),
    ]
