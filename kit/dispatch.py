"""Publishing tasks by name through the dispatcher the settings choose: the broker, or, on the embedded
default (no broker, so CELERY_TASK_ALWAYS_EAGER), one that runs each task at once in this process.

Business code asks the dispatcher, never the mode: it `publish`es a task, and reads `defers` to know
whether a task can wait for its countdown (a broker holds it until then; in process nothing waits, so
work due later is left for `manage.py dispatch_due` to release).
"""

from typing import Any, Protocol

from celery import current_app
from django.conf import settings


class Dispatcher(Protocol):
    defers: bool

    def publish(self, name: str, args: list[Any], **options: Any) -> None: ...


class BrokerDispatcher:
    """Sends the task message to the broker (options: queue, headers, countdown)."""

    defers = True

    def publish(self, name: str, args: list[Any], **options: Any) -> None:
        current_app.send_task(name, args=args, **options)


class InProcessDispatcher:
    """Runs the task here and now, keeping its headers. Celery's own eager `apply_async` would still open a
    producer on the broker there is none of (kombu warns "No hostname was supplied")."""

    defers = False

    def publish(self, name: str, args: list[Any], **options: Any) -> None:
        current_app.tasks[name].apply(args=args, headers=options.get("headers"))


_BROKER, _IN_PROCESS = BrokerDispatcher(), InProcessDispatcher()


def task_dispatcher() -> Dispatcher:
    """The dispatcher for the current settings: the one place that tells the two modes apart."""
    return _IN_PROCESS if settings.CELERY_TASK_ALWAYS_EAGER else _BROKER
