"""The service behind PgBouncer in transaction mode (DATABASE_POOLER=transaction).

The fixture runs the Debian package's pgbouncer on 127.0.0.1 (6432, or a free port when that one is taken) in
front of the test database, with `server_reset_query_always`: every transaction ends with DISCARD ALL, so
anything that leans on session state (a SET, a prepared statement, a server-side cursor, an advisory lock,
LISTEN) fails here at once instead of now and then in production, when another client's transaction lands on
the same server connection.
"""

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from logs_app.models import NotificationLog
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests import factories
from tests.ops.conftest import connection_changed
from tests.workers import ROOT, Worker, database_url, free_port, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

PGBOUNCER = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin")  # Debian puts it in sbin


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PgBouncer:
    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory

    def admin(self, command: str) -> list[dict]:
        """The rows of a command of pgbouncer's admin console (SHOW STATS, SHOW VERSION), as dicts."""
        with psycopg.connect(host="127.0.0.1", port=self.port, dbname="pgbouncer", user="postgres",
                             autocommit=True, prepare_threshold=None) as admin:
            cursor = admin.execute(command)
            columns = [column.name for column in cursor.description]
            return [dict(zip(columns, row)) for row in cursor.fetchall()]

    def transactions(self) -> int:
        """Transactions pgbouncer passed to the test database so far."""
        return sum(row["total_xact_count"] for row in self.admin("SHOW STATS")
                   if row["database"] == connection.settings_dict["NAME"])


@pytest.fixture
def pgbouncer() -> Iterator[PgBouncer]:
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL")
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (Debian: apt-get install -y pgbouncer)")
    db = connection.settings_dict
    port = 6432 if _port_free(6432) else free_port()
    # Started as root, pgbouncer drops to the postgres user, which must read and write here.
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    directory.chmod(0o777)
    (directory / "users.txt").write_text(f'"{db["USER"]}" ""\n')
    (directory / "pgbouncer.ini").write_text(f"""
[databases]
* = host={db["HOST"] or "127.0.0.1"} port={db["PORT"] or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "users.txt"}
admin_users = {db["USER"]}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
server_reset_query = DISCARD ALL
server_reset_query_always = 1
ignore_startup_parameters = extra_float_digits
logfile = {directory / "pgbouncer.log"}
{"user = postgres" if os.geteuid() == 0 else ""}
""")
    process = subprocess.Popen([PGBOUNCER, str(directory / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    bouncer = PgBouncer(port, directory)
    try:
        def answers() -> bool:
            try:
                return bool(bouncer.admin("SHOW VERSION"))
            except psycopg.Error:
                return process.poll() is not None

        assert wait_for(answers, 15) and process.poll() is None, (directory / "pgbouncer.log").read_text()
        yield bouncer
    finally:
        process.terminate()
        process.wait(timeout=10)
        print((directory / "pgbouncer.log").read_text())  # shown when the test fails
        shutil.rmtree(directory, ignore_errors=True)


def through(bouncer: PgBouncer) -> contextlib.AbstractContextManager:
    """This process's connection goes through pgbouncer, with the settings DATABASE_POOLER=transaction gives."""
    return connection_changed(HOST="127.0.0.1", PORT=str(bouncer.port), DISABLE_SERVER_SIDE_CURSORS=True,
                              OPTIONS={**connection.settings_dict["OPTIONS"], "prepare_threshold": None})


def pooled_settings(**env: str) -> subprocess.CompletedProcess:
    code = ("import os; os.environ['DJANGO_SETTINGS_MODULE'] = 'notifications_project.settings'\n"
            "from django.conf import settings\n"
            "db = settings.DATABASES['default']\n"
            "print(db['OPTIONS']['prepare_threshold'], db['DISABLE_SERVER_SIDE_CURSORS'], "
            "settings.DATABASE_STATEMENT_TIMEOUT_MS)")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "DOTENV_FILE": "/nonexistent",
                               "DATABASE_URL": "postgres://postgres@127.0.0.1:6432/notifications",
                               "DATABASE_POOLER": "transaction", **env})


def test_database_pooler_turns_off_what_lives_in_a_session():
    out = pooled_settings()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["None", "True", "0"]
    refused = pooled_settings(DATABASE_STATEMENT_TIMEOUT_MS="5000")
    assert refused.returncode != 0 and "DATABASE_STATEMENT_TIMEOUT_MS is a session setting" in refused.stderr


@pytest.fixture
def ada(db) -> APIClient:
    template_create(name="hello", type="email", subject="Hi {{ name }}", body="Hello {{ name }}")
    for user_id in (1001, 1002, 1003):
        preference_update(user_id=user_id, email=f"user{user_id}@example.com")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {factories.api_key()[1]}")
    return client


def test_sends_lists_and_exports_work_through_pgbouncer(pgbouncer, ada):
    before = pgbouncer.transactions()
    with through(pgbouncer):
        sent = ada.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "hello",
                                                   "context": {"name": "Ada"}}, format="json")
        assert sent.status_code == 202, sent.json()
        # Queued in process here: the bulk's logs are read back with .iterator() (no server-side cursor).
        bulk = ada.post("/api/v1/notifications/bulk/", {"user_ids": [1001, 1002, 1003], "template_name": "hello",
                                                        "context": {"name": "all"}}, format="json")
        assert bulk.status_code == 202 and bulk.json()["accepted"] == 3, bulk.json()
        listed = ada.get("/api/v1/notifications/?size=2").json()
        rest = ada.get(f"/api/v1/notifications/?size=2&cursor={listed['next_cursor']}").json()
        export = json.loads(b"".join(ada.get("/api/v1/users/1001/export/").streaming_content))
        statuses = set(NotificationLog.objects.values_list("status", flat=True))
    assert listed["total"] == 4 and len(listed["items"] + rest["items"]) == 4
    assert [log["subject"] for log in export["notifications"]] == ["Hi Ada", "Hi all"]
    assert statuses == {"sent"}  # delivered in process (the embedded default's tasks), through pgbouncer too
    assert pgbouncer.transactions() > before + 10


@pytest.mark.worker
def test_a_worker_delivers_through_pgbouncer(pgbouncer, ada, publishing, broker_url, fake_twilio, tmp_path):
    preference_update(user_id=1001, phone_number="+4915112345678")
    template_create(name="code_sms", type="sms", body="Code {{ code }}")
    providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                          "OPTIONS": fake_twilio.provider_options()}]}
    pooled_url = database_url().replace(f":{connection.settings_dict['PORT'] or 5432}/", f":{pgbouncer.port}/")
    worker = Worker(env=worker_env(broker_url=broker_url, providers=providers, DATABASE_URL=pooled_url,
                                   DATABASE_POOLER="transaction"), log_dir=tmp_path)
    try:
        worker.start()
        with through(pgbouncer):
            sent = ada.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                       "context": {"code": "42"}}, format="json")
            assert sent.status_code == 202, sent.json()
            assert wait_for(lambda: NotificationLog.objects.filter(pk=sent.json()["id"], status="sent").exists())
    finally:
        worker.stop()
        print(worker.log.read_text())
    assert [request.form["Body"] for request in fake_twilio.requests] == ["Code 42"]
