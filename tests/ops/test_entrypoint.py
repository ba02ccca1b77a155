"""The image's entrypoint started as the `stream` role (deploy/k8s/stream-deployment.yaml): uvicorn answers the
probes and serves the inbox's stream live, and a shutdown ends open streams instead of waiting for them."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.db import connection

from inbox_app.tokens import feed_token_mint
from tests.workers import ROOT, database_url, free_port, wait_for

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not django_settings.REDIS_URL, reason="live updates need REDIS_URL")]


@pytest.fixture
def stream_role(tmp_path):
    """`deploy/entrypoint.sh stream` on the test database and Redis, as the pod runs it (DEBUG off)."""
    if connection.vendor != "postgresql":
        pytest.skip("the server process needs the test database on PostgreSQL")
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "PORT": str(port),
           "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECRET_KEY": django_settings.SECRET_KEY,
           "DATABASE_URL": database_url(), "REDIS_URL": django_settings.REDIS_URL, "DATA_DIR": str(tmp_path),
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    log = tmp_path / "stream.log"
    process = subprocess.Popen(["sh", str(ROOT / "deploy" / "entrypoint.sh"), "stream"], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"

    def live() -> bool:
        try:
            return httpx.get(f"{url}/health/live", headers={"Host": "localhost"}).status_code == 200
        except httpx.TransportError:
            return process.poll() is not None

    try:
        assert wait_for(live, 60) and process.poll() is None, log.read_text()
        yield process, url, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_stream_role_serves_probes_and_the_feed_stream_and_ends_streams_on_shutdown(stream_role):
    process, url, log = stream_role
    for probe in ("startup", "live", "ready"):
        assert httpx.get(f"{url}/health/{probe}", headers={"Host": "localhost"}).status_code == 200, probe

    token, _ = feed_token_mint(user_id=1001)
    with httpx.stream("GET", f"{url}/api/v1/feed/stream/?token={token}", timeout=30) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-accel-buffering"] == "no"
        lines = stream.iter_lines()
        first = next(line for line in lines if line.startswith("event:"))
        assert first == "event: counts"

        # Kubernetes stops a pod with SIGTERM: the open stream ends (its browser reconnects elsewhere) and the
        # process exits, rather than holding the pod until the stream's own five minutes are up.
        os.killpg(process.pid, signal.SIGTERM)
        # uvicorn ends by raising the signal again on itself once it has shut down.
        assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()
        assert "timeout graceful shutdown exceeded" in log.read_text()
        # The stream is cut, not left hanging: a browser's EventSource takes that as its cue to reconnect.
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in lines:
                pass
