"""On PostgreSQL the delivery log becomes range-partitioned by created_at (logs_app/partitions.py), without copying
a row (logs_app/migration_operations.partition_in_place): the existing table becomes the partition of everything
before a boundary T (the start of the period after tomorrow's), and a new partitioned table takes its name. Then
the partitions from T on are made ahead. The embedded SQLite default keeps its plain table: nothing runs there.
Not reversible (a partitioned table would have to be copied back into one)."""

from django.db import migrations

from logs_app.migration_operations import partition_operation


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('logs_app', '0014_provider_calls_keep_a_plain_log_id'),
    ]

    operations = [
        partition_operation("NotificationLog", key="created_at"),
    ]
