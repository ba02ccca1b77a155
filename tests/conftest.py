"""Fixtures shared by every test: a clean cache, factories, API keys."""

import pytest
from django.conf import settings
from django.core.cache import cache

from kit import pagination
from tests import factories


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    """After each transactional test, pytest-django empties every table with Django's flush, which on
    PostgreSQL is one TRUNCATE of all of them: new files for each table and index, 0.5-1.3 s a test on this
    machine. A DELETE from each (what the SQLite backend does) leaves the same empty tables in a few
    milliseconds; foreign keys are deferred to the flush's commit, so the order does not matter. Sequences
    go on either way (the TRUNCATE has no RESTART IDENTITY either)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush

    def delete_from_each(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        return [f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};" for table in tables]

    DatabaseOperations.sql_flush = delete_from_each
    yield
    DatabaseOperations.sql_flush = truncate


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (the real Redis when REDIS_URL is set) and no planner estimate kept."""
    cache.clear()
    pagination.estimates_forget()
    yield
    cache.clear()


@pytest.fixture
def template(db):
    return factories.NotificationTemplateFactory()


@pytest.fixture
def preference(db):
    return factories.UserPreferenceFactory(user_id=1001)


def ids_past_32_bits(model, factory):
    """Makes `model`'s next id 2^31 + 1, past a 32-bit integer, as a busy service's tables reach; yields it.

    On PostgreSQL the id sequence is moved (and put back afterwards: a sequence is outside transactions, so
    the tests after this one would get big ids too); SQLite's AUTOINCREMENT continues after the highest id it
    gave, so a row with id 2^31 is made and deleted.
    """
    from django.db import connection

    if connection.vendor != "postgresql":
        model.objects.filter(pk=factory(id=2**31).pk).delete()
        yield 2**31 + 1
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
        before = cursor.fetchone()
        cursor.execute(f"ALTER SEQUENCE {sequence} RESTART WITH {2**31 + 1}")
    yield 2**31 + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, *before])


@pytest.fixture
def big_log_ids(db):
    """The next log id is 2^31 + 1."""
    from logs_app.models import NotificationLog

    yield from ids_past_32_bits(NotificationLog, factories.NotificationLogFactory)


from notification_channels import registry  # noqa: E402
from tests.fakes.fixtures import *  # noqa: E402,F401,F403  (fake_twilio, fake_fcm, fake_apns, fake_smtp, keys)


@pytest.fixture(autouse=True)
def _fresh_providers():
    """Providers are built once per process; each test starts from the settings it set."""
    registry.close()
    yield
    registry.close()


@pytest.fixture
def sms_via(settings):
    """Point the SMS channel at the given fakes (Twilio's or SNS's), in failover order."""

    def configure(*fakes):
        settings.NOTIFICATION_PROVIDERS = {
            **settings.NOTIFICATION_PROVIDERS,
            "sms": [{"BACKEND": getattr(fake, "backend", "notification_channels.sms.TwilioSMSProvider"),
                     "OPTIONS": fake.provider_options()}
                    for fake in fakes],
        }

    return configure


def broker_purge(url: str) -> None:
    """Empty the broker: tasks left by an earlier test or run name logs of another database."""
    if url.startswith("amqp"):
        from kombu import Connection

        from notifications_project.celery import app as celery_app

        with Connection(url, connect_timeout=5) as broker:
            for queue in celery_app.conf.task_queues:
                bound = queue(broker.default_channel)
                bound.declare()
                bound.purge()
    else:
        import redis

        # Everything but kombu's bindings of exchanges to queues: a process declares those once, and a
        # message to an exchange without them would go nowhere.
        client = redis.Redis.from_url(url)
        stale = [key for key in client.scan_iter() if not key.startswith(b"_kombu.binding.")]
        if stale:
            client.delete(*stale)


@pytest.fixture
def broker_url():
    """The broker of the real-worker tests (CELERY_TEST_BROKER_URL: Redis or RabbitMQ), emptied before each
    test; they need PostgreSQL too."""
    from django.db import connection

    if connection.vendor != "postgresql" or not settings.CELERY_TEST_BROKER_URL:
        pytest.skip("needs PostgreSQL and CELERY_TEST_BROKER_URL (a Redis or RabbitMQ broker)")
    broker_purge(settings.CELERY_TEST_BROKER_URL)
    return settings.CELERY_TEST_BROKER_URL


@pytest.fixture
def publishing(broker_url, settings):
    """This test process publishes to the broker instead of running tasks in process."""
    from notifications_project.celery import app as celery_app
    from tests.workers import use_broker

    settings.CELERY_TASK_ALWAYS_EAGER = False
    use_broker(broker_url)
    yield
    celery_app.conf.update(task_always_eager=True)
