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


def _index_state(cursor, name: str) -> tuple[bool, bool] | None:
    """(valid, attached to a parent index) of the index `name`; None when there is none."""
    cursor.execute("SELECT i.indisvalid, EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid) FROM pg_class c "
                   "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = %s", [name])
    row = cursor.fetchone()
    return None if row is None else (row[0], row[1])


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
            partitions = _partitions(cursor, model._meta.db_table)
        if partitions is None:
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        self._ensure_not_in_transaction(schema_editor)
        quote = schema_editor.quote_name
        parent = self.index.create_sql(model, schema_editor)
        parent.parts["name"] = f"IF NOT EXISTS {quote(self.index.name)}"  # a failed run may have made it
        parent.parts["table"] = f"ONLY {quote(model._meta.db_table)}"
        schema_editor.execute(parent)
        for partition in partitions:
            name = f"{partition}_{self.index.name.removeprefix(f'ix_{model._meta.db_table}_')}"[:63]
            with schema_editor.connection.cursor() as cursor:
                state = _index_state(cursor, name)
            if state == (True, True):  # built and attached by a run that failed further on
                continue
            if state is not None:  # left invalid (or built but not attached) by a failed run
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
