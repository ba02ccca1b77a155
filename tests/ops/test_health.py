"""Readiness flips to 503 naming the dependency that stopped answering, and back to 200 when it returns."""

import contextlib
import time

import pytest
from django.db import connection
from django.test import override_settings

from tests.ops.conftest import connection_changed

# Not wrapped in a transaction: the database connection is closed and reopened against a dead address.
pytestmark = pytest.mark.django_db(transaction=True)

CLOSED = "127.0.0.1:1"  # nothing listens on port 1, so connecting is refused at once


def ready(client):
    started = time.monotonic()
    response = client.get("/health/ready")
    return response.status_code, response.json(), time.monotonic() - started


@contextlib.contextmanager
def database_unreachable():
    """Point the live connection at a closed port, then back."""
    if connection.vendor != "postgresql":
        pytest.skip("needs a database server (the embedded SQLite test database lives in this process)")
    host, port = CLOSED.split(":")
    with connection_changed(HOST=host, PORT=port):
        yield


def closed_redis_cache():
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": f"redis://{CLOSED}/0",
                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}


def test_ready_is_200_when_everything_answers(client):
    status, body, _ = ready(client)
    assert status == 200 and body["status"] == "ok" and set(body["checks"]) == {"database", "cache"}


def test_database_down_then_back(client):
    with database_unreachable():
        status, body, seconds = ready(client)
        assert status == 503 and body["status"] == "unavailable"
        assert body["checks"]["database"].startswith("unavailable:") and body["checks"]["cache"] == "ok"
        assert seconds < 5, "a probe must answer quickly even when the database does not"
    status, body, _ = ready(client)
    assert status == 200 and body["checks"]["database"] == "ok"


def test_cache_down_then_back(client):
    with override_settings(CACHES=closed_redis_cache()):
        status, body, seconds = ready(client)
        assert status == 503 and body["checks"]["cache"].startswith("unavailable:")
        assert body["checks"]["database"] == "ok" and seconds < 5
    assert ready(client)[0] == 200


def test_broker_is_checked_when_configured(client, settings):
    settings.CELERY_BROKER_URL = f"redis://{CLOSED}/0"
    status, body, seconds = ready(client)
    assert status == 503 and body["checks"]["broker"].startswith("unavailable:") and seconds < 5
    assert body["checks"]["database"] == body["checks"]["cache"] == "ok"
    if settings.REDIS_URL:  # a real Redis to be the broker: the probe recovers when it answers
        settings.CELERY_BROKER_URL = settings.REDIS_URL
        status, body, _ = ready(client)
        assert status == 200 and body["checks"]["broker"] == "ok"


def test_startup_and_live_do_not_touch_dependencies(client):
    with override_settings(CACHES=closed_redis_cache()):
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/startup").status_code == 200
