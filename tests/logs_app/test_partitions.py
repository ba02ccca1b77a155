"""The delivery log's partitions (logs_app/partitions.py, `manage.py log_partitions`): PostgreSQL only; the embedded
SQLite default keeps a plain table."""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from logs_app.models import IdempotencyKey, NotificationLog, ProviderCall
from logs_app.partitions import HELD, LOGS, partitions_create_ahead, partitions_list
from logs_app.rollup import counts_compare
from tests import factories
from tests.logs_app.conftest import twice_at_once

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")


def _drop_partitions() -> None:
    with connection.cursor() as cursor:
        for part in partitions_list():
            cursor.execute(f"DROP TABLE {part.name}")


@pytest.fixture
def layout(transactional_db):
    """Partitions of our own choosing for one test: `make(boundaries)` replaces every partition with the DEFAULT one
    and a partition between each two boundaries. Afterwards the migration's layout is back (everything before the
    next period's start in one partition, a DEFAULT one, and partitions ahead), empty, for the tests after."""
    parts = partitions_list()
    before = next(part for part in parts if part.start is None)

    def make(boundaries: list[dt.datetime]) -> None:
        _drop_partitions()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {HELD} PARTITION OF {LOGS} DEFAULT")
            for start, end in zip(boundaries, boundaries[1:]):
                cursor.execute(f"CREATE TABLE {LOGS}_p{start:%Y%m%d%H%M} PARTITION OF {LOGS} "
                               f"FOR VALUES FROM (%s) TO (%s)", [start, end])

    yield make
    NotificationLog.objects.all().delete()
    _drop_partitions()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {HELD} PARTITION OF {LOGS} DEFAULT")
        cursor.execute(f"CREATE TABLE {before.name} PARTITION OF {LOGS} FOR VALUES FROM (MINVALUE) TO (%s)",
                       [before.end])
    partitions_create_ahead(now=before.end, ahead=2, period="month")


def partition_of(log_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {LOGS} WHERE id = %s", [log_id])
        return cursor.fetchone()[0]


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


@pytest.fixture
def api(transactional_db):
    key, secret = factories.api_key(name="partitions")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


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
def test_the_migrated_log_is_partitioned_by_creation_time_with_id_and_created_at_as_its_key(transactional_db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [LOGS])
        assert cursor.fetchone()[0] == "p"
        cursor.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                       "AND contype = 'p'", [LOGS])
        assert cursor.fetchone()[0] == "PRIMARY KEY (id, created_at)"
    parts = partitions_list()
    assert parts[0].start is None and parts[-1].name == HELD and parts[-1].end is None
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


def _log(*, status: str, created_at: dt.datetime, calls: int = 1) -> int:
    log = NotificationLog.objects.create(user_id=1001, type="sms", status=status, recipient="+4915112345678",
                                         provider="" if status == "pending" else "twilio", body="Code 1")
    NotificationLog.objects.filter(pk=log.pk).update(created_at=created_at)
    for attempt in range(1, calls + 1):
        ProviderCall.objects.create(log_id=log.pk, attempt=attempt, provider="twilio", started_at=created_at,
                                    duration_ms=5, outcome="transient" if status == "pending" else "sent")
    return log.pk


@pytest.fixture
def months(layout):
    """Monthly partitions from six months ago to two ahead, logs in an old one and in the current one, and the
    rollup counting them."""
    now = timezone.now()
    layout([])
    partitions_create_ahead(now=now - dt.timedelta(days=183), ahead=8, period="month")
    old = now - dt.timedelta(days=150)
    # The recent log's id lies between the old ones' (a log may commit out of order): its calls must stay.
    logs = {"old_sent": _log(status="sent", created_at=old),
            "recent_sent": _log(status="sent", created_at=now - dt.timedelta(days=1)),
            "old_failed": _log(status="failed", created_at=old),
            "old_pending": _log(status="pending", created_at=old, calls=2)}  # a retry still owed
    call_command("log_counts_check", "--all", "--repair")
    return logs, partition_of(logs["old_sent"])


@on_postgresql
def test_retiring_drops_old_partitions_keeps_their_pending_logs_and_their_counts_leave_the_rollup(
        months, api, capsys):
    logs, old_partition = months
    call_command("log_partitions", "--retention-days", "90")
    out = capsys.readouterr().out
    assert f"Dropped {old_partition}: 3 logs, 1 pending kept (the log was locked for " in out
    assert not table_exists(old_partition) and not table_exists(f"{old_partition}_retired")
    assert all(part.end is None or part.end > timezone.now() - dt.timedelta(days=90) for part in partitions_list())
    assert set(NotificationLog.objects.values_list("id", flat=True)) == {logs["old_pending"], logs["recent_sent"]}
    assert partition_of(logs["old_pending"]) == HELD  # kept with its own created_at, still owed
    held = api.get(f"/api/v1/notifications/{logs['old_pending']}/").json()
    assert held["status"] == "pending" and len(held["provider_calls"]) == 2
    assert set(ProviderCall.objects.values_list("log_id", flat=True)) == {logs["old_pending"], logs["recent_sent"]}
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
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {old_partition} ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [logs["old_sent"], logs["old_failed"]]
        cursor.execute(f"SELECT count(*) FROM {old_partition}_calls")
        assert cursor.fetchone()[0] == 2
        cursor.execute(f"DROP TABLE {', '.join(f'{name}, {name}_calls' for name in archived)}")
    assert old_partition not in {part.name for part in partitions_list()}
    assert counts_compare(None, None) == []


@on_postgresql
def test_a_retired_partition_left_undropped_by_a_run_that_died_is_dropped_by_the_next(months, capsys, monkeypatch):
    from logs_app import partitions

    logs, old_partition = months

    def die(name):
        raise KeyboardInterrupt  # the run is killed after the detaching transaction committed

    def leftovers() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE '%%retired'")
            return [row[0] for row in cursor.fetchall()]

    attached = {part.name for part in partitions_list()}
    monkeypatch.setattr(partitions, "_table_drop", die)
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
    log = _log(status="sent", created_at=now)
    assert partition_of(log) == HELD  # no partition yet: the DEFAULT one took it
    call_command("log_partitions", "--ahead", "1")
    assert "Made 2 partitions" in capsys.readouterr().out
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
    assert len(made) == 2 and sorted(len(names) for names in made) in ([0, 3], [1, 2])
    assert len([part for part in partitions_list() if part.end is not None]) == 3
