"""On PostgreSQL the provider calls become range-partitioned by started_at, with the log's boundaries, so that
retiring a period drops its calls with its logs instead of deleting them row by row (logs_app/retirement.py). As
for the log (0015), no row is copied (logs_app/migration_operations.partition_in_place): the existing table becomes
the partition of everything before T (the start of the period after tomorrow's), and the partitions from T on are
made ahead. The embedded SQLite default keeps its plain table. Not reversible."""

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
    partition_in_place(schema_editor, apps.get_model("logs_app", "ProviderCall"), key="started_at", switch=switch)
    partitions_create_ahead(now=switch, ahead=settings.LOG_PARTITIONS_AHEAD, period=period)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('logs_app', '0016_recipient_index_in_list_order'),
    ]

    operations = [
        migrations.RunPython(partition, elidable=False),
    ]
