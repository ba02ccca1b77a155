"""On PostgreSQL the provider calls become range-partitioned by started_at, with the log's boundaries, so that
retiring a period drops its calls with its logs instead of deleting them row by row (logs_app/retirement.py). As
for the log (0015), no row is copied (logs_app/migration_operations.partition_in_place): the existing table becomes
the partition of everything before T (the start of the period after tomorrow's), and the partitions from T on are
made ahead. The embedded SQLite default keeps its plain table. Not reversible."""

from django.db import migrations

from logs_app.migration_operations import partition_operation


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('logs_app', '0016_recipient_index_in_list_order'),
    ]

    operations = [
        partition_operation("ProviderCall", key="started_at"),
    ]
