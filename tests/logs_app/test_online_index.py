"""Indexes added to the partitioned log by a migration (logs_app/migration_operations.AddIndexOnline): built
partition by partition with CONCURRENTLY, so sends go on meanwhile, and finished by a rerun after a failure."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from logs_app.migration_operations import AddIndexOnline
from logs_app.models import Index
from logs_app.partitions import LOGS, partitions_list

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")

NAME = "ix_notification_logs_probe"


def _operation() -> AddIndexOnline:
    return AddIndexOnline(model_name="notificationlog", index=Index(fields=["client", "-created_at"], name=NAME))


def _states():
    before = MigrationLoader(connection).project_state()
    after = before.clone()
    _operation().state_forwards("logs_app", after)
    return before, after


def _indexes() -> dict[str, tuple[bool, str | None]]:
    """Every index of the probe, the parent's and its partitions': name -> (valid, the table it indexes)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, i.indisvalid, i.indrelid::regclass::text FROM pg_class c "
                       "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname LIKE %s", ["%probe"])
        return {name: (valid, table) for name, valid, table in cursor.fetchall()}


@pytest.fixture
def probe(transactional_db):
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {NAME}")
        for part in partitions_list():
            cursor.execute(f"DROP INDEX IF EXISTS {part.name}_probe")


def _forwards() -> None:
    before, after = _states()
    with connection.schema_editor(atomic=False) as editor:
        _operation().database_forwards("logs_app", editor, before, after)


def test_each_partition_gets_its_own_index_attached_to_a_valid_one_on_the_log(probe):
    _forwards()
    parts = partitions_list()
    indexes = _indexes()
    assert indexes.pop(NAME) == (True, LOGS)
    assert indexes == {f"{part.name}_probe": (True, part.name) for part in parts}
    with connection.cursor() as cursor:  # each is the parent's partition: a partition made later gets one too
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [NAME])
        assert cursor.fetchone()[0] == len(parts)
    before, after = _states()
    with connection.schema_editor(atomic=False) as editor:
        _operation().database_backwards("logs_app", editor, after, before)
    assert _indexes() == {}


def test_a_rerun_finishes_what_a_failed_run_left(probe):
    first, second, *_ = partitions_list()
    with connection.cursor() as cursor:  # a run that died after one partition and during the build of the next
        cursor.execute(f"CREATE INDEX {NAME} ON ONLY {LOGS} (client, created_at DESC)")
        cursor.execute(f"CREATE INDEX {first.name}_probe ON {first.name} (client, created_at DESC)")
        cursor.execute(f"ALTER INDEX {NAME} ATTACH PARTITION {first.name}_probe")
        cursor.execute(f"CREATE INDEX {second.name}_probe ON {second.name} (client, created_at DESC)")
    assert _indexes()[NAME] == (False, LOGS)
    _forwards()
    indexes = _indexes()
    assert indexes.pop(NAME) == (True, LOGS)
    assert indexes == {f"{part.name}_probe": (True, part.name) for part in partitions_list()}


def test_a_partition_made_during_the_build_gets_its_index_from_the_log(probe, monkeypatch):
    """A partition made (by log_partitions) once the log's index exists takes its own from it; the build, which
    lists the partitions after making that index, leaves it be."""
    import logs_app.migration_operations as operations

    late, calls = f"{LOGS}_probe_late", []
    listed = operations._partitions

    def partitions_made_meanwhile(cursor, table):
        calls.append(table)
        if len(calls) == 2:  # the listing after the log's index was made
            last = partitions_list()[-2]  # the last bounded one (the DEFAULT partition comes last)
            cursor.execute(f"CREATE TABLE {late} PARTITION OF {LOGS} FOR VALUES FROM (%s) TO (%s)",
                           [last.end, last.end + (last.end - last.start)])
        return listed(cursor, table)

    monkeypatch.setattr(operations, "_partitions", partitions_made_meanwhile)
    try:
        _forwards()
        assert _indexes()[NAME] == (True, LOGS)
        with connection.cursor() as cursor:
            cursor.execute("SELECT i.indisvalid FROM pg_inherits h JOIN pg_index i ON i.indexrelid = h.inhrelid "
                           "WHERE h.inhparent = %s::regclass AND i.indrelid = %s::regclass", [NAME, late])
            assert cursor.fetchall() == [(True,)]  # one index, PostgreSQL's, attached
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {late}")
