"""The Celery application; tasks live in the apps' tasks.py modules."""

import os

from celery import Celery, signals
from django.db import close_old_connections

from kit.logging import connect_celery_signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "notifications_project.settings")

app = Celery("notifications")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
connect_celery_signals()


@signals.worker_ready.connect
def _serve_worker_metrics(**kwargs: object) -> None:
    from kit.metrics import start_worker_metrics_server

    start_worker_metrics_server()


@signals.task_prerun.connect
def _database_connections_checked(sender=None, **kwargs: object) -> None:
    """Before each task, what Django does before each request: a connection past DATABASE_CONN_MAX_AGE or
    left broken by an error is closed, and a kept one is health-checked on its next use (CELERY_DB_REUSE_MAX
    keeps Celery from closing it after every task). Not in process: there the caller's connection, and its
    transaction, belong to the caller."""
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
