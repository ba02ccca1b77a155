"""Migration operations for tables too big to lock: indexes built CONCURRENTLY on PostgreSQL."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
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
