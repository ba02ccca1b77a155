"""The Celery application; tasks live in the apps' tasks.py modules."""

import os

from celery import Celery, signals

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
