"""Fixtures for the accounting runs: the live REST API, a throwaway broker, workers and the sweep."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from apikeys_app.services import api_key_create
from notifications_project.celery import app as celery_app
from templates_app.services import template_create
from tests.reliability.harness import Broker, RabbitMQBroker, Sweeper
from tests.workers import Worker, use_broker, worker_env

# Short leases and re-queue delays, so that lost work comes back within seconds, not minutes.
LEASE_SECONDS = 3
REQUEUE_AFTER_SECONDS = 4
WORKER_SETTINGS = {
    "NOTIFICATION_LEASE_SECONDS": str(LEASE_SECONDS),
    "NOTIFICATION_LEASE_MARGIN_SECONDS": "1",
    "NOTIFICATION_REQUEUE_AFTER_SECONDS": str(REQUEUE_AFTER_SECONDS),
    "NOTIFICATION_RETRY_BASE_SECONDS": "1",
    "NOTIFICATION_RETRY_MAX_SECONDS": "4",
    "NOTIFICATION_MAX_ATTEMPTS": "4",
}


@dataclass
class Stage:
    """One accounting run's moving parts; everything started through it is stopped at teardown."""

    base_url: str
    api_key: str
    broker: Broker | RabbitMQBroker
    log_dir: Path
    sweeper: Sweeper
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, providers: dict[str, Any], concurrency: int = 2, **settings: str) -> Worker:
        """A worker delivering through `providers`; `settings` override WORKER_SETTINGS in its environment."""
        worker = Worker(env=worker_env(broker_url=self.broker.url, providers=providers,
                                       **{**WORKER_SETTINGS, **settings}),
                        log_dir=self.log_dir, concurrency=concurrency)
        self.workers.append(worker)  # before start: a worker that half-started is still stopped
        worker.start()
        return worker


@pytest.fixture
def stage(live_server, transactional_db, settings, tmp_path) -> Iterator[Stage]:
    if connection.vendor != "postgresql" or shutil.which("redis-server") is None:
        pytest.skip("the accounting runs need PostgreSQL (DATABASE_URL) and a redis-server binary")
    settings.RATELIMIT_ENABLE = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.NOTIFICATION_LEASE_SECONDS = LEASE_SECONDS
    settings.NOTIFICATION_LEASE_MARGIN_SECONDS = 1
    settings.NOTIFICATION_REQUEUE_AFTER_SECONDS = REQUEUE_AFTER_SECONDS
    template_create(name="acct_sms", type="sms", body="Code {{ code }}", variables={"code": "#0"})
    secret = api_key_create(name="accounting", scopes=["send", "read"])[1]

    # The broker under test: a throwaway redis-server, or, when CELERY_TEST_BROKER_URL names RabbitMQ, that
    # RabbitMQ behind a proxy of the test's own that can cut it off.
    amqp = (settings.CELERY_TEST_BROKER_URL or "").startswith("amqp")
    broker = RabbitMQBroker(settings.CELERY_TEST_BROKER_URL) if amqp else Broker()
    sweeper = Sweeper(interval=1.0)
    stage = Stage(base_url=live_server.url, api_key=secret, broker=broker, log_dir=tmp_path, sweeper=sweeper)
    try:
        broker.start()
        use_broker(broker.url)
        sweeper.start()
        yield stage
    finally:
        sweeper.stop()
        for worker in stage.workers:
            worker.stop()
        broker.stop()
        celery_app.conf.update(task_always_eager=True)
        for worker in stage.workers:  # pytest shows this only when the test fails
            print(f"--- {worker.name}\n{worker.log.read_text()[-4000:]}")
