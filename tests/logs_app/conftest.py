import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from logs_app.models import NotificationLog, ProviderCall
from logs_app.partitions import TABLES, partitions_create_ahead, partitions_list
from preferences_app.services import preference_update
from rest_framework.test import APIClient
from templates_app.services import template_create
from tests import factories


@pytest.fixture
def code_sms_users(db, fake_twilio, sms_via):
    """SMS through the Twilio fake, a `code_sms` template, user 1 with a number and user 2 who turned SMS off."""
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=1, phone_number="+4915112345601")
    preference_update(user_id=2, phone_number="+4915112345602", sms_enabled=False)


def twice_at_once(action) -> list:
    """What `action()` returned in two threads let go together, each with its own database connection."""
    barrier = threading.Barrier(2)
    results = []

    def run():
        barrier.wait()
        try:
            results.append(action())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# The partitions of the log and of its provider calls (PostgreSQL) ---------------------------------------------

@pytest.fixture
def api(transactional_db):
    """A REST client with an API key, for tests that commit (transactional_db)."""
    _, secret = factories.api_key(name="partitions")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return client


on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="partitions are PostgreSQL's")


def _partitions_drop() -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            for part in partitions_list(table):
                cursor.execute(f"DROP TABLE {part.name}")


@pytest.fixture
def layout(transactional_db):
    """Partitions of our own choosing for one test: `make(boundaries)` replaces every partition of the log and of
    the calls with a DEFAULT one and a partition between each two boundaries. Afterwards the migrations' layout is
    back (everything before the next period's start in one partition, a DEFAULT one, and partitions ahead),
    empty, for the tests after."""
    before = {table: next(part for part in partitions_list(table) if part.start is None) for table in TABLES}

    def make(boundaries: list[dt.datetime]) -> None:
        _partitions_drop()
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"CREATE TABLE {table.held} PARTITION OF {table.name} DEFAULT")
                for start, end in zip(boundaries, boundaries[1:]):
                    cursor.execute(f"CREATE TABLE {table.name}_p{start:%Y%m%d%H%M} PARTITION OF {table.name} "
                                   f"FOR VALUES FROM (%s) TO (%s)", [start, end])

    yield make
    NotificationLog.objects.all().delete()
    _partitions_drop()
    with connection.cursor() as cursor:
        for table, part in before.items():
            cursor.execute(f"CREATE TABLE {table.held} PARTITION OF {table.name} DEFAULT")
            cursor.execute(f"CREATE TABLE {part.name} PARTITION OF {table.name} FOR VALUES FROM (MINVALUE) TO (%s)",
                           [part.end])
    partitions_create_ahead(now=max(part.end for part in before.values()), ahead=2, period="month")


def partition_of(log_id: int, table: str = "notification_logs", column: str = "id") -> str:
    """The partition that holds the log (or with table and column, the row pointing at it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = %s", [log_id])
        return cursor.fetchone()[0]


def table_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def old_log(*, status: str, created_at: dt.datetime, calls: int = 1) -> int:
    """A log created at `created_at`, with `calls` provider calls started then."""
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
    rollup counting them. Returns the logs by name and the old log partition's name."""
    now = timezone.now()
    layout([])
    partitions_create_ahead(now=now - dt.timedelta(days=183), ahead=8, period="month")
    old = now - dt.timedelta(days=150)
    # The recent log's id lies between the old ones' (a log may commit out of order): its calls must stay.
    logs = {"old_sent": old_log(status="sent", created_at=old),
            "recent_sent": old_log(status="sent", created_at=now - dt.timedelta(days=1)),
            "old_failed": old_log(status="failed", created_at=old),
            "old_pending": old_log(status="pending", created_at=old, calls=2)}  # a retry still owed
    call_command("log_counts_check", "--all", "--repair")
    return logs, partition_of(logs["old_sent"])
