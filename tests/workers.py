"""Real Celery worker processes for tests: on the test database and a Redis broker, always stopped.

Also the small helpers they need: free ports, polling, the test database's URL, and pointing this
process's publisher at a broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import connection

from notifications_project.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def use_broker(url: str) -> None:
    """Publish from this process to `url` (Celery caches pools per URL, so they are dropped)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    celery_app.conf.update(broker_url=url, task_always_eager=False)



# Workers --------------------------------------------------------------------------------------


class Worker:
    """A real `celery worker` process group on the test database, killable with SIGKILL."""

    count = 0

    def __init__(self, *, env: dict[str, str], log_dir: Path, concurrency: int = 2, loglevel: str = "WARNING",
                 queues: str = "") -> None:
        Worker.count += 1
        self.name = f"worker{Worker.count}@{socket.gethostname()}"
        self.env, self.concurrency, self.loglevel, self.queues = env, concurrency, loglevel, queues
        self.log = log_dir / f"worker{Worker.count}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "notifications_project", "worker", "-n", self.name,
             "--concurrency", str(self.concurrency), "--without-heartbeat", "--without-mingle", "--without-gossip",
             "--loglevel", self.loglevel, *(["-Q", self.queues] if self.queues else [])],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        ready = wait_for(lambda: self.process.poll() is not None
                         or bool(celery_app.control.ping(destination=[self.name], timeout=0.5)), 40, 0.1)
        assert ready and self.process.poll() is None, f"worker did not start:\n{self.log.read_text()}"

    def kill(self) -> None:
        """SIGKILL the whole group (the main process and its pool), as an OOM killer or a lost node would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):  # pool children outlive a main process that exited
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """At a test's end, gone at once: nothing after it needs the worker's warm shutdown, which took about
        3 s a worker (what the test checks happened before; a message it held goes back to the broker, which
        the next test empties, and PostgreSQL ends its sessions when their sockets close)."""
        self.kill()


def worker_env(*, broker_url: str, providers: dict[str, Any], **settings: str) -> dict[str, str]:
    """The service's own settings (not the tests'), on the test database and `broker_url`."""
    return {
        **os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker_url, "SECRET_KEY": "worker-tests",
        "NOTIFICATION_PROVIDERS": json.dumps(providers), "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "notifications_project.settings", "CELERY_WORKER_PREFETCH_MULTIPLIER": "1",
        **settings,
    }


