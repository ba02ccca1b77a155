"""The provider calls' partitions (PostgreSQL): partitioned by started_at with the log's boundaries, made in place
by migration 0017 without copying a row, and retired with the logs' by `log_partitions`."""

import datetime as dt
from types import SimpleNamespace

import psycopg
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from logs_app.migration_operations import partition_in_place
from logs_app.models import NotificationLog, ProviderCall
from logs_app.partitions import CALLS, HELD, partitions_list
from logs_app.pipeline.calls import call_rows
from logs_app.rollup import counts_compare
from notification_channels.base import CallOutcome
from notification_channels.base import ProviderCall as Call
from tests.logs_app.conftest import on_postgresql, partition_of, table_exists


def _call(log_id: int, started_at: dt.datetime, attempt: int = 2) -> int:
    return ProviderCall.objects.create(log_id=log_id, attempt=attempt, provider="twilio", started_at=started_at,
                                       duration_ms=5, outcome="sent").pk


def test_a_call_never_starts_before_its_log_was_written(db):
    log = NotificationLog.objects.create(user_id=1, type="sms", recipient="+4915112345678", body="Hi")
    early = log.created_at - dt.timedelta(milliseconds=3)  # the worker's clock a moment behind the web's
    later = log.created_at + dt.timedelta(seconds=1)
    rows = call_rows(log=log, calls=[Call(provider="twilio", started_at=early, duration_ms=5,
                                          outcome=CallOutcome.SENT),
                                     Call(provider="twilio", started_at=later, duration_ms=5,
                                          outcome=CallOutcome.SENT)])
    assert [row.started_at for row in rows] == [log.created_at, later]


@on_postgresql
def test_a_retrys_call_in_a_later_month_goes_with_its_log_and_a_held_logs_stays(months, api, capsys):
    logs, _ = months
    now = timezone.now()
    late = _call(logs["old_sent"], now - dt.timedelta(days=2))  # retried across the boundary, in this month
    held_late = _call(logs["old_pending"], now - dt.timedelta(days=2))
    call_command("log_partitions", "--retention-days", "90")
    assert not ProviderCall.objects.filter(pk=late).exists()
    assert ProviderCall.objects.filter(pk=held_late).exists()
    held = api.get(f"/api/v1/notifications/{logs['old_pending']}/").json()
    assert len(held["provider_calls"]) == 3  # the two of its old month, moved to the DEFAULT partition, and this one


@on_postgresql
def test_a_held_log_that_finished_goes_with_its_calls_once_past_the_retention(months, capsys):
    logs, _ = months
    call_command("log_partitions", "--retention-days", "90")
    assert partition_of(logs["old_pending"]) == HELD
    _call(logs["old_pending"], timezone.now(), attempt=3)
    NotificationLog.objects.filter(pk=logs["old_pending"]).update(status="sent", provider="twilio")
    call_command("log_counts_check", "--all", "--repair")
    capsys.readouterr()
    call_command("log_partitions", "--retention-days", "90")
    assert "Deleted 1 finished held log past the retention." in capsys.readouterr().out
    assert not NotificationLog.objects.filter(pk=logs["old_pending"]).exists()
    assert not ProviderCall.objects.filter(log_id=logs["old_pending"]).exists()
    assert set(NotificationLog.objects.values_list("id", flat=True)) == {logs["recent_sent"]}
    assert counts_compare(None, None) == []


@on_postgresql
def test_when_a_months_logs_are_put_off_its_calls_wait_with_them(months, capsys, monkeypatch):
    from logs_app import retirement

    logs, old_partition = months
    real = retirement._log_partition_retire

    def busy(part, archive):  # the log's lock not had within the timeout, for the old month only
        if part.name == old_partition:
            raise OperationalError("canceling statement due to lock timeout") from psycopg.errors.LockNotAvailable()
        return real(part, archive)

    monkeypatch.setattr(retirement, "_log_partition_retire", busy)
    call_command("log_partitions", "--retention-days", "90")
    out = capsys.readouterr().out
    old_calls = old_partition.replace("notification_logs", CALLS.name)
    assert f"Put off {old_partition}: its table was busy past 5s; the next run retires it." in out
    assert f"Put off {old_calls}: the logs of its period are not all retired yet; the next run retires it." in out
    assert ProviderCall.objects.filter(log_id=logs["old_pending"]).count() == 2
    monkeypatch.undo()
    call_command("log_partitions", "--retention-days", "90")
    out = capsys.readouterr().out
    assert f"Dropped {old_partition}: 3 logs, 1 pending kept" in out and f"Dropped {old_calls}:" in out
    assert ProviderCall.objects.filter(log_id=logs["old_pending"]).count() == 2
    assert not table_exists(old_calls)


@on_postgresql
def test_a_filled_table_becomes_partitioned_in_place_and_its_ids_go_on(transactional_db):
    """partition_in_place, as migrations 0015 and 0017 run it, on a table of its own: the rows stay in the same
    file (nothing copied), the old table is the partition before the switch, and new rows go on numbering."""
    switch = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    table = SimpleNamespace(_meta=SimpleNamespace(db_table="scratch_calls", indexes=[]))
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_calls (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                       "started_at timestamptz NOT NULL, outcome text CHECK (outcome <> ''))")
        cursor.execute("INSERT INTO scratch_calls (started_at, outcome) "
                       "SELECT now() - n * interval '1 hour', 'sent' FROM generate_series(1, 50) n")
        cursor.execute("SELECT pg_relation_filenode('scratch_calls')")
        filenode = cursor.fetchone()[0]
    try:
        with connection.schema_editor(atomic=False) as editor:
            partition_in_place(editor, table, key="started_at", switch=switch)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_filenode('scratch_calls_before_20300101'), "
                           "(SELECT relkind FROM pg_class WHERE oid = 'scratch_calls'::regclass)")
            assert cursor.fetchone() == (filenode, "p")
            cursor.execute("INSERT INTO scratch_calls (started_at, outcome) VALUES (now(), 'sent'), "
                           "(%s, 'sent') RETURNING id, tableoid::regclass::text", [switch])
            assert cursor.fetchall() == [(51, "scratch_calls_before_20300101"), (52, "scratch_calls_held")]
            with pytest.raises(psycopg.errors.CheckViolation):
                cursor.cursor.execute("INSERT INTO scratch_calls (started_at, outcome) VALUES (now(), '')")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS scratch_calls")


@on_postgresql
def test_calls_written_before_their_months_partition_was_made_move_into_it(layout, capsys):
    layout([])
    log = NotificationLog.objects.create(user_id=1, type="sms", recipient="+4915112345678", body="Hi")
    call = _call(log.pk, timezone.now(), attempt=1)
    assert partition_of(call, CALLS.name) == CALLS.held
    call_command("log_partitions", "--ahead", "0")
    assert partition_of(call, CALLS.name) == f"{CALLS.name}_p{timezone.now():%Y%m}01"
    assert len([part for part in partitions_list(CALLS) if part.end is not None]) == 1
