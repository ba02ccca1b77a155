"""The delivery log's partitions (logs_app/partitions.py, `manage.py log_partitions`): PostgreSQL only; the embedded
SQLite default keeps a plain table."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from logs_app.models import IdempotencyKey, NotificationLog, ProviderCall
from logs_app.partitions import CALLS, HELD, LOG, LOGS, partitions_create_ahead, partitions_list
from logs_app.rollup import counts_compare
from tests import factories
from tests.logs_app.conftest import old_log, on_postgresql, partition_of, table_exists, twice_at_once

@pytest.fixture
def send(transactional_db):
    template = factories.NotificationTemplateFactory()
    factories.UserPreferenceFactory(user_id=1001)
    return {"user_id": 1001, "template_name": template.name, "context": {"first_name": "Ada", "code": "42"}}


def aged(log_id: int, created_at: dt.datetime) -> None:
    """Move a log back in time (on PostgreSQL the UPDATE moves the row to the partition of its new created_at)."""
    NotificationLog.objects.filter(pk=log_id).update(created_at=created_at)
    IdempotencyKey.objects.filter(log_id=log_id).update(created_at=created_at)


@on_postgresql
@pytest.mark.parametrize("table", [LOG, CALLS], ids=["the log by created_at", "its calls by started_at"])
def test_the_migrated_tables_are_partitioned_by_time_with_id_and_that_time_as_their_key(transactional_db, table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table.name])
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "AND contype = 'p'", [table.name])
        assert cursor.fetchone()[0] == f"PRIMARY KEY (id, {table.key})"
    parts = partitions_list(table)
    assert parts[0].start is None and parts[-1].name == table.held and parts[-1].end is None
    assert len([part for part in parts if part.start and part.start > timezone.now()]) >= 2  # made ahead


@on_postgresql
def test_sends_either_side_of_a_boundary_live_in_two_partitions_and_read_as_one_log(layout, api, send):
    now = timezone.now()
    boundary = now - dt.timedelta(hours=12)
    layout([now - dt.timedelta(days=60), boundary, now + dt.timedelta(days=30)])
    first = api.post("/api/v1/notifications/", send, format="json").json()["id"]
    second = api.post("/api/v1/notifications/", send, format="json").json()["id"]
    aged(first, now - dt.timedelta(days=1))
    assert partition_of(first) != partition_of(second) != HELD
    listed = api.get("/api/v1/notifications/", {"user_id": 1001}).json()
    assert [item["id"] for item in listed["items"]] == [second, first] and listed["total"] == 2
    assert api.get(f"/api/v1/notifications/{first}/").json()["id"] == first


@on_postgresql
def test_a_retry_whose_first_attempt_is_in_an_older_partition_answers_the_first_log(layout, api, send):
    now = timezone.now()
    layout([now - dt.timedelta(days=60), now - dt.timedelta(hours=12), now + dt.timedelta(days=30)])
    first = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    aged(first.json()["id"], now - dt.timedelta(hours=23))  # within the key's 24 hours, across the boundary
    again = api.post("/api/v1/notifications/", send, format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and NotificationLog.objects.count() == 1
    other = api.post("/api/v1/notifications/", {**send, "context": {"first_name": "Bob", "code": "1"}},
                     format="json", HTTP_IDEMPOTENCY_KEY="order-7")
    assert other.status_code == 422 and NotificationLog.objects.count() == 1


@on_postgresql
def test_retiring_drops_old_partitions_keeps_their_pending_logs_and_their_counts_leave_the_rollup(
        months, api, capsys):
    logs, old_partition = months
    call_command("log_partitions", "--retention-days", "90")
    out = capsys.readouterr().out
    assert f"Dropped {old_partition}: 3 logs, 1 pending kept (the log was locked for " in out
    old_calls = old_partition.replace(LOGS, CALLS.name)  # the calls of the same month
    assert f"Dropped {old_calls}: about 2 provider calls, 2 of held logs kept (the calls were locked for " in out
    for name in (old_partition, old_calls):
        assert not table_exists(name) and not table_exists(f"{name}_retired")
    for table in (LOG, CALLS):
        assert all(part.end is None or part.end > timezone.now() - dt.timedelta(days=90)
                   for part in partitions_list(table))
    assert set(NotificationLog.objects.values_list("id", flat=True)) == {logs["old_pending"], logs["recent_sent"]}
    assert partition_of(logs["old_pending"]) == HELD  # kept with its own created_at, still owed
    held = api.get(f"/api/v1/notifications/{logs['old_pending']}/").json()
    assert held["status"] == "pending" and len(held["provider_calls"]) == 2
    assert set(ProviderCall.objects.values_list("log_id", flat=True)) == {logs["old_pending"], logs["recent_sent"]}
    assert partition_of(logs["old_pending"], CALLS.name, "log_id") == CALLS.held
    assert counts_compare(None, None) == []  # the rollup equals a real count of what is left
    call_command("log_partitions", "--retention-days", "90")
    assert "No partition is wholly older than 90 days." in capsys.readouterr().out


@on_postgresql
def test_archive_keeps_the_retired_partition_detached_with_its_calls(months, capsys):
    logs, old_partition = months
    call_command("log_partitions", "--retention-days", "90", "--archive")
    out = capsys.readouterr().out
    assert f"Detached (kept for archive) {old_partition}: 3 logs, 1 pending kept (the log was locked for " in out
    archived = [line.split()[4].rstrip(":") for line in out.splitlines() if line.startswith("Detached")]
    assert len(archived) == 6  # three months of the log, three of its calls
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {old_partition} ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [logs["old_sent"], logs["old_failed"]]
        cursor.execute(f"SELECT log_id FROM {old_partition.replace(LOGS, CALLS.name)} ORDER BY log_id")
        assert [row[0] for row in cursor.fetchall()] == [logs["old_sent"], logs["old_failed"]]  # pending's moved
        cursor.execute(f"DROP TABLE {', '.join(archived)}")
    assert old_partition not in {part.name for part in partitions_list()}
    assert counts_compare(None, None) == []


@on_postgresql
def test_a_retired_partition_left_undropped_by_a_run_that_died_is_dropped_by_the_next(months, capsys, monkeypatch):
    from logs_app import retirement

    logs, old_partition = months

    def die(name):
        raise KeyboardInterrupt  # the run is killed after the detaching transaction committed

    def leftovers() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE '%%retired'")
            return [row[0] for row in cursor.fetchall()]

    attached = {part.name for part in partitions_list()}
    monkeypatch.setattr(retirement, "_table_drop", die)
    with pytest.raises(KeyboardInterrupt):
        call_command("log_partitions", "--retention-days", "90")
    [leftover] = leftovers()  # the oldest partition, detached and renamed, not dropped
    assert leftover.removesuffix("_retired") in attached - {part.name for part in partitions_list()}
    monkeypatch.undo()
    call_command("log_partitions", "--retention-days", "90")
    assert leftovers() == [] and not table_exists(old_partition)
    assert f"Dropped {old_partition}: 3 logs, 1 pending kept" in capsys.readouterr().out
    assert NotificationLog.objects.filter(pk=logs["old_pending"]).exists()


@on_postgresql
def test_a_drop_that_waits_past_the_lock_timeout_still_reports_the_partition_retired(months, capsys, monkeypatch):
    import psycopg
    from django.db import OperationalError

    _, old_partition = months
    real_execute = connection.cursor().__class__.execute

    def execute(self, sql, params=None):  # another session holds the detached table's lock past LOCK_TIMEOUT
        if sql.startswith("DROP TABLE IF EXISTS") and sql.endswith("_retired"):
            raise OperationalError("canceling statement due to lock timeout") from psycopg.errors.LockNotAvailable()
        return real_execute(self, sql, params)

    monkeypatch.setattr(connection.cursor().__class__, "execute", execute)
    call_command("log_partitions", "--retention-days", "90")
    out = capsys.readouterr().out
    assert f"Dropped {old_partition}: 3 logs, 1 pending kept" in out and "Put off" not in out
    assert "the detached table's lock was busy past 5s: the next run drops it" in out
    assert table_exists(f"{old_partition}_retired")  # left for the next run
    monkeypatch.undo()
    call_command("log_partitions", "--retention-days", "90")
    assert not table_exists(f"{old_partition}_retired")


@on_postgresql
def test_a_partition_made_late_takes_its_rows_from_the_default_one(layout, capsys):
    now = timezone.now()
    layout([])
    log = old_log(status="sent", created_at=now)
    assert partition_of(log) == HELD  # no partition yet: the DEFAULT one took it
    call_command("log_partitions", "--ahead", "1")
    assert "Made 4 partitions" in capsys.readouterr().out  # two months of the log, two of the calls
    assert partition_of(log) == f"{LOGS}_p{now:%Y%m}01"
    call_command("log_partitions", "--ahead", "1")
    assert "Made 0 partitions." in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the embedded default's plain table")
def test_on_sqlite_the_log_is_one_table_and_the_command_says_to_use_purge_logs(db):
    with pytest.raises(CommandError, match="use purge_logs"):
        call_command("log_partitions")


@on_postgresql
@pytest.mark.parametrize("args", [["--ahead", "-1"], ["--retention-days", "0"], ["--retention-days", "x"]])
def test_bad_arguments_are_refused(transactional_db, args):
    with pytest.raises(CommandError):
        call_command("log_partitions", *args)


@on_postgresql
def test_beats_daily_run_makes_partitions_ahead_and_retires_only_when_told(months, settings):
    from logs_app.tasks import log_partitions

    logs, old_partition = months
    assert settings.CELERY_BEAT_SCHEDULE["log-partitions"]["task"] == "logs_app.tasks.log_partitions"
    settings.LOG_PARTITION_RETENTION_DAYS = 0
    log_partitions.delay()
    assert table_exists(old_partition)
    settings.LOG_PARTITION_RETENTION_DAYS = 90
    log_partitions.delay()
    assert not table_exists(old_partition) and NotificationLog.objects.filter(pk=logs["old_pending"]).exists()


@on_postgresql
def test_two_runs_at_once_take_turns_and_make_each_partition_once(layout):
    layout([])
    made = twice_at_once(lambda: partitions_create_ahead(now=timezone.now(), ahead=2, period="month"))
    # A clash would have raised ("already exists", an overlap) in a thread and left its list out.
    assert len(made) == 2 and sum(len(names) for names in made) == 6  # three months of the log, three of the calls
    for table in (LOG, CALLS):
        assert len([part for part in partitions_list(table) if part.end is not None]) == 3
