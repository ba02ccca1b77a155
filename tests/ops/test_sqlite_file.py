"""The embedded default's SQLite file, opened as the service opens it (settings.SQLITE_OPTIONS): a request that
only reads answers while another process's write transaction is open, however much that transaction writes."""

import time

from django.conf import settings
from django.db.utils import ConnectionHandler


def _connections(path):
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": dict(settings.SQLITE_OPTIONS)}
    return ConnectionHandler({"default": database, "reader": {**database, "OPTIONS": dict(database["OPTIONS"])}})


def test_a_reader_does_not_wait_for_a_large_write_transaction(tmp_path, django_db_blocker):
    django_db_blocker.unblock()  # connections of the test's own, to a file of its own: not the test database
    handler = _connections(tmp_path / "db.sqlite3")
    writer, reader = handler["default"], handler["reader"]
    reader.settings_dict["OPTIONS"]["timeout"] = 0.2  # fail fast instead of waiting 20 s, as a request would
    try:
        with writer.cursor() as cursor:
            cursor.execute("CREATE TABLE logs (id INTEGER PRIMARY KEY, body TEXT)")
            cursor.execute("INSERT INTO logs (body) VALUES ('before')")
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM logs")
            assert cursor.fetchone() == (1,)
        writer.set_autocommit(False)
        with writer.cursor() as cursor:
            cursor.execute("BEGIN IMMEDIATE")
            # Far past SQLite's 2 MB page cache: with a rollback journal the writer now holds the file exclusively.
            cursor.executemany("INSERT INTO logs (body) VALUES (%s)", [("x" * 1000,)] * 20_000)
        started = time.monotonic()
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM logs")
            assert cursor.fetchone() == (1,)  # the writer's rows are not committed yet
        assert time.monotonic() - started < 0.2
        writer.commit()
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM logs")
            assert cursor.fetchone() == (20_001,)
    finally:
        handler.close_all()
        django_db_blocker.restore()
