"""Migration operations for tables too big to lock: indexes built CONCURRENTLY on PostgreSQL, and a table made
partitioned in place."""

import datetime as dt

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, transaction
from django.db.backends.ddl_references import Table


def _partitions(cursor, table: str) -> list[str] | None:
    """The partitions of `table`, or None when it is a plain table."""
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])
    if cursor.fetchone()[0] != "p":
        return None
    cursor.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = %s::regclass ORDER BY 1",
                   [table])
    return [row[0] for row in cursor.fetchall()]


def _indexed(cursor, parent_index: str) -> set[str]:
    """The partitions that have an index attached to `parent_index`."""
    cursor.execute("SELECT i.indrelid::regclass::text FROM pg_inherits h JOIN pg_index i ON i.indexrelid = h.inhrelid "
                   "WHERE h.inhparent = %s::regclass", [parent_index])
    return {row[0] for row in cursor.fetchall()}


def _index_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i')", [name])
    return cursor.fetchone()[0]


class AddIndexOnline(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL (writes go on while it builds; the migration must say
    `atomic = False`); a plain CREATE INDEX elsewhere (the embedded SQLite has no CONCURRENTLY).

    PostgreSQL refuses CONCURRENTLY on a partitioned table, and a plain CREATE INDEX there blocks every write
    to the log until every partition's index is built. So on the partitioned log the index is made as its manual
    describes: an empty, invalid index ON ONLY the parent, each partition's own built CONCURRENTLY and attached
    to it; the parent's becomes valid with the last one (a partition made later gets its own from the parent)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)
            return
        model = to_state.apps.get_model(app_label, self.model_name)
        with schema_editor.connection.cursor() as cursor:
            partitioned = _partitions(cursor, model._meta.db_table) is not None
        if not partitioned:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        self._ensure_not_in_transaction(schema_editor)
        quote = schema_editor.quote_name
        parent = self.index.create_sql(model, schema_editor)
        parent.parts["name"] = f"IF NOT EXISTS {quote(self.index.name)}"  # a failed run may have made it
        parent.parts["table"] = f"ONLY {quote(model._meta.db_table)}"
        schema_editor.execute(parent)
        # Listed after the parent's index exists: a partition made from now on gets its own from it.
        with schema_editor.connection.cursor() as cursor:
            partitions, indexed = _partitions(cursor, model._meta.db_table), _indexed(cursor, self.index.name)
        for partition in partitions:
            if partition in indexed:  # made with the parent's index, or built and attached by an earlier run
                continue
            name = f"{partition}_{self.index.name.removeprefix(f'ix_{model._meta.db_table}_')}"[:63]
            with schema_editor.connection.cursor() as cursor:
                leftover = _index_exists(cursor, name)
            if leftover:  # half built (invalid), or built and not attached, by a run that failed
                schema_editor.execute(f"DROP INDEX CONCURRENTLY {quote(name)}")
            child = self.index.create_sql(model, schema_editor, concurrently=True)
            child.parts["table"], child.parts["name"] = Table(partition, quote), quote(name)
            schema_editor.execute(child)
            schema_editor.execute(f"ALTER INDEX {quote(self.index.name)} ATTACH PARTITION {quote(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
            return
        model = from_state.apps.get_model(app_label, self.model_name)
        with schema_editor.connection.cursor() as cursor:
            partitioned = _partitions(cursor, model._meta.db_table) is not None
        if partitioned:  # a partitioned index has no DROP CONCURRENTLY: a short lock drops it with its partitions'
            migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
        else:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


def partition_in_place(schema_editor, model, *, key: str, switch) -> None:
    """Make `model`'s table (PostgreSQL) range-partitioned by the timestamp column `key` without copying a row: the
    table becomes the partition of everything before `switch`, and a new partitioned table takes its name.

    1. A unique index on (id, key) is built CONCURRENTLY (writes go on), to become that partition's primary key.
    2. CHECK (key < switch) is added NOT VALID, then validated (a scan that lets writes go on), so that the attach
       below trusts it instead of scanning under its lock. Rows written until `switch` still go to the old table.
    3. One short transaction switches: the old table gives up its identity (the new table's sequence continues
       from it), its primary key becomes (id, key), its indexes are renamed out of the way, it is renamed
       `<table>_before_<switch>`; a partitioned table with the same columns, checks, foreign keys, indexes (the
       model's definitions) and identity takes the name, with a DEFAULT partition `<table>_held`; the old table is
       attached FOR VALUES FROM (MINVALUE) TO (switch), its indexes adopted as the new ones' partitions.
    The migration must say `atomic = False`. Not reversible (a partitioned table would have to be copied back)."""
    connection, table = schema_editor.connection, model._meta.db_table
    bound, id_key = f"{table}_before_bound", f"{table}_id_{key.removesuffix('_at')}"
    old = f"{table}_before_{switch:%Y%m%d}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {id_key}")  # a build a failed run left invalid
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {id_key} ON {table} (id, {key})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {bound}")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {bound} CHECK ({key} < %s) NOT VALID", [switch])
        cursor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {bound}")
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))")
        next_id = cursor.fetchone()[0]
        cursor.execute(f"SELECT conname FROM pg_constraint WHERE conrelid = '{table}'::regclass AND contype = 'p'")
        primary_key = cursor.fetchone()[0]
        cursor.execute(f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                       f"WHERE conrelid = '{table}'::regclass AND contype = 'f'")
        foreign_keys = cursor.fetchall()
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id DROP IDENTITY")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {primary_key}")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {old}_pkey PRIMARY KEY USING INDEX {id_key}")
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s "
                       "AND indexname <> %s", [table, f"{old}_pkey"])
        for (index,) in cursor.fetchall():
            cursor.execute(f"ALTER INDEX {index} RENAME TO {index[:55]}_before")
        cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
        cursor.execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                       f"INCLUDING STORAGE) PARTITION BY RANGE ({key})")
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {bound}")
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY "
                       f"(SEQUENCE NAME {table}_id_seq START WITH {int(next_id)})")
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (id, {key})")
        for name, definition in foreign_keys:
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for index in model._meta.indexes:
            cursor.execute(str(index.create_sql(model, schema_editor)))
        cursor.execute(f"CREATE TABLE {table}_held PARTITION OF {table} DEFAULT")
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {old} FOR VALUES FROM (MINVALUE) TO (%s)", [switch])
        cursor.execute(f"ALTER TABLE {old} DROP CONSTRAINT {bound}")  # the partition's bound says it now


def partition_operation(model_name: str, *, key: str) -> migrations.RunPython:
    """The migration operation that partitions `model_name`'s table by `key` in place on PostgreSQL (at the start
    of the period after tomorrow's: rows written until then go to the old table, now its first partition) and
    makes the partitions ahead; nothing on SQLite. Migrations 0015 (the log) and 0017 (its calls) are this."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        from django.conf import settings
        from django.utils import timezone

        from logs_app.partitions import partitions_create_ahead, period_after, period_start

        period = settings.LOG_PARTITION_PERIOD
        switch = period_after(period_start(timezone.now() + dt.timedelta(days=1), period), period)
        partition_in_place(schema_editor, apps.get_model("logs_app", model_name), key=key, switch=switch)
        partitions_create_ahead(now=switch, ahead=settings.LOG_PARTITIONS_AHEAD, period=period)

    return migrations.RunPython(forwards, elidable=False)
