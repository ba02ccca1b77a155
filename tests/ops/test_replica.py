"""A read replica (kit/replica.py): the reads that may lag go to the `replica` alias, everything else, and a
client's reads right after its own write, to the primary.

The `replica` alias is a second connection to the same PostgreSQL database (tests/settings.py, TEST MIRROR), so
each read's alias is seen in that connection's query log. The tests commit (no test transaction): a read inside
an open transaction on the primary always stays there.
"""

import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from kit.replica import ReplicaRouter, lagging_reads
from logs_app.models import NotificationLog
from logs_app.selectors import log_page
from tests import factories
from tests.workers import ROOT

MIRRORED = "replica" in django_settings.DATABASES  # tests/settings.py adds it on PostgreSQL
pytestmark = [
    pytest.mark.skipif(not MIRRORED, reason="needs DATABASE_URL on PostgreSQL (the replica alias mirrors it)"),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"] if MIRRORED else ["default"]),
]

LOGS = "notification_logs"
COUNTS = "notification_log_counts"


@pytest.fixture(autouse=True)
def replica(settings):
    settings.DATABASE_REPLICA_ALIAS = "replica"
    settings.METRICS_TOKEN = "scrape"


class Reads:
    """The SQL each alias ran while the block ran."""

    def __init__(self) -> None:
        self.primary: list[str] = []
        self.replica: list[str] = []

    def on(self, alias: str, table: str) -> bool:
        return any(f'"{table}"' in sql for sql in getattr(self, alias))


@pytest.fixture
def reads() -> Callable[[], Iterator[Reads]]:
    import contextlib

    @contextlib.contextmanager
    def capture() -> Iterator[Reads]:
        seen = Reads()
        with CaptureQueriesContext(connections["default"]) as primary, \
                CaptureQueriesContext(connections["replica"]) as replica:
            yield seen
        seen.primary = [query["sql"] for query in primary.captured_queries]
        seen.replica = [query["sql"] for query in replica.captured_queries]

    return capture


@pytest.fixture
def sender(db) -> APIClient:
    factories.UserPreferenceFactory(user_id=1001)
    factories.NotificationTemplateFactory(name="hello")
    return client_of()


def client_of() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key()[1]}")
    return client


SEND = {"user_id": 1001, "template_name": "hello", "context": {"first_name": "Ada", "code": "1"}}


def test_a_log_list_is_read_from_the_replica(sender, reads):
    factories.NotificationLogFactory(user_id=1001)
    with reads() as seen:
        body = client_of().get("/api/v1/notifications/?user_id=1001").json()
    assert body["total"] == 1
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)


def test_a_clients_list_after_its_own_send_reads_the_primary(sender, reads):
    sent = sender.post("/api/v1/notifications/", SEND, format="json")
    assert sent.status_code == 202
    with reads() as seen:
        mine = sender.get("/api/v1/notifications/?user_id=1001").json()
        others = client_of().get("/api/v1/notifications/?user_id=1001").json()
    assert [item["id"] for item in mine["items"]] == [sent.json()["id"]] == [item["id"] for item in others["items"]]
    assert len([sql for sql in seen.primary if f'FROM "{LOGS}"' in sql]) >= 1  # the sender's list
    assert len([sql for sql in seen.replica if f'FROM "{LOGS}"' in sql]) >= 1  # the other client's


def test_the_pin_lasts_the_configured_time(sender, reads, settings):
    settings.DATABASE_REPLICA_PIN_SECONDS = 0  # no pin: the next request may read the replica
    assert sender.post("/api/v1/notifications/", SEND, format="json").status_code == 202
    with reads() as seen:
        sender.get("/api/v1/notifications/?user_id=1001")
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)


GRAPHQL_LIST = "query { userNotifications(userId: 1001) { items { logId } } }"
GRAPHQL_SEND = ('mutation { sendNotification(input: {userId: 1001, templateName: "hello", '
                'context: "{\\"first_name\\": \\"Ada\\", \\"code\\": \\"1\\"}"}) { logId } }')


def test_graphql_lists_read_the_replica_until_the_client_mutates(sender, reads):
    factories.NotificationLogFactory(user_id=1001)
    with reads() as seen:
        before = sender.post("/graphql/", {"query": GRAPHQL_LIST}, format="json").json()
    assert len(before["data"]["userNotifications"]["items"]) == 1
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)

    sent = sender.post("/graphql/", {"query": GRAPHQL_SEND}, format="json").json()["data"]["sendNotification"]
    with reads() as seen:
        after = sender.post("/graphql/", {"query": GRAPHQL_LIST}, format="json").json()
    assert after["data"]["userNotifications"]["items"][0] == sent
    assert seen.on("primary", LOGS) and not seen.on("replica", LOGS)


def test_a_read_inside_a_transaction_that_writes_stays_on_the_primary(db, reads):
    with reads() as seen, transaction.atomic():
        log = factories.NotificationLogFactory(user_id=1001)
        assert [item.pk for item in log_page(user_id=1001).items] == [log.pk]  # its own uncommitted row
    assert not seen.on("replica", LOGS)
    with reads() as seen:
        assert [item.pk for item in log_page(user_id=1001).items] == [log.pk]
    assert seen.on("replica", LOGS)


def test_only_reads_marked_as_lagging_go_to_the_replica(db, reads):
    log = factories.NotificationLogFactory(user_id=1001)
    with reads() as seen:
        assert client_of().get(f"/api/v1/notifications/{log.pk}/").status_code == 200  # a detail: the primary
        with lagging_reads():
            NotificationLog.objects.filter(pk=log.pk).update(status="sent")  # a write: the primary
    assert seen.on("primary", LOGS) and not seen.on("replica", LOGS)
    router = ReplicaRouter()
    assert router.allow_migrate("replica", "logs_app") is False and router.allow_migrate("default", "logs_app") is None


def test_dashboard_export_and_metrics_read_the_replica(db, admin_client, client, reads):
    factories.NotificationLogFactory(user_id=1001)
    with reads() as seen:
        assert admin_client.get("/admin/delivery/").status_code == 200
    assert seen.on("replica", COUNTS) and not seen.on("primary", COUNTS)

    with reads() as seen:
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").status_code == 200
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)

    out = io.StringIO()
    with reads() as seen:
        call_command("export_user_data", "1001", stdout=out)
    assert len(json.loads(out.getvalue())["notifications"]) == 1
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)

    with reads() as seen:
        streamed = b"".join(client_of().get("/api/v1/users/1001/export/").streaming_content)
    assert len(json.loads(streamed)["notifications"]) == 1
    assert seen.on("replica", LOGS) and not seen.on("primary", LOGS)


def test_readiness_checks_the_replica(client):
    body = client.get("/health/ready").json()
    assert body["checks"]["replica"] == "ok"


def test_database_replica_url_adds_the_alias(replica):
    url = connections["default"].settings_dict
    code = ("import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'notifications_project.settings'\n"
            "from django.conf import settings\n"
            "print(settings.DATABASE_REPLICA_ALIAS, settings.DATABASES['replica']['NAME'], settings.DATABASE_ROUTERS)")
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "DOTENV_FILE": "/nonexistent",
           "DATABASE_URL": f"postgres://postgres@{url['HOST']}:{url['PORT']}/primary_db",
           "DATABASE_REPLICA_URL": f"postgres://postgres@{url['HOST']}:{url['PORT']}/replica_db"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(maxsplit=2) == ["replica", "replica_db", "['kit.replica.ReplicaRouter']\n"]
