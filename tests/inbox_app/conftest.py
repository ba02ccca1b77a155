"""What the inbox's tests share: a kind with an in-app template, and a way to trigger it."""

import socket
import threading
import time

import pytest
import uvicorn

from kinds_app.models import KindTemplate
from logs_app.pipeline.trigger import notification_trigger
from tests import factories

CONTEXT = {"first_name": "Ada", "code": "1234"}


@pytest.fixture
def in_app_template(db):
    return factories.NotificationTemplateFactory(
        name="order_shipped_in_app", type="in_app", subject="Order {{ code }} shipped",
        body="**Hi {{ first_name }}**, it is on its way. [Track it](https://shop.example/track/{{ code }})")


@pytest.fixture
def in_app_kind(in_app_template):
    kind = factories.NotificationKindFactory(key="order_shipped", channels=[])
    KindTemplate.objects.create(kind=kind, channel="in_app", template=in_app_template)
    return kind


@pytest.fixture
def trigger(django_capture_on_commit_callbacks):
    """notification_trigger, with what it queues after the commit run (in process, as tasks run here)."""

    def run(**arguments):
        arguments.setdefault("context", CONTEXT)
        with django_capture_on_commit_callbacks(execute=True):
            return notification_trigger(**arguments)

    return run


@pytest.fixture(scope="module")
def asgi_server(django_db_blocker):
    """The service's ASGI application under uvicorn, in a thread of this process (so on the test database)."""
    from notifications_project.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning",
                                          lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    # The server's threads kept database connections of their own; end them, or the test database cannot go.
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid()")


@pytest.fixture
def asgi_url(asgi_server, settings):
    """The ASGI server's address, with its host allowed for this test."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    return asgi_server
