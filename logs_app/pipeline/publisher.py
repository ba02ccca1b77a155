"""Hands committed single sends to the delivery queue from a background thread, many logs per task message.

Publishing a Celery message costs a web process about as much as the INSERT of the log itself, so
a request does not publish: it gives the committed log's id to this process's publisher thread
and answers. The thread publishes what it holds at once, then waits NOTIFICATION_PUBLISH_LINGER_MS
before publishing again, so an idle service still queues each send within a millisecond or so while
a busy one publishes one task for every few sends.

Nothing accepted can be lost here: the log is committed (with `queued_at`) before its id arrives.
Ids still held when the process exits normally are published by an `atexit` hook; a process
killed outright loses only the queue messages, and the sweep queues those logs again after
NOTIFICATION_REQUEUE_AFTER_SECONDS, as it does for any lost message.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Publisher:
    """One per process: collects items (the pipeline's are log ids with their request ids) and publishes
    them in batches, in the order they came, through `publish`."""

    def __init__(self, publish: Callable[[list[Any]], None], *, linger_seconds: Callable[[], float]) -> None:
        self._publish = publish
        self._linger_seconds = linger_seconds
        self._reset()
        atexit.register(self.flush)
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        # A forked child starts empty: what the parent holds is the parent's to publish, and a lock
        # held by one of the parent's threads at the fork would never be released in the child.
        self._lock = threading.Lock()
        self._items: list[Any] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, item: Any) -> None:
        """Publish this item soon."""
        with self._lock:
            self._items.append(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="notification-publisher", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> int:
        """Publish every item held now; returns how many."""
        with self._lock:
            items, self._items = self._items, []
        if items:
            self._publish(items)
        return len(items)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # `publish` logs broker trouble itself; anything else must not end the thread
                logger.exception("publishing queued notifications failed; the sweep will queue them")
            time.sleep(self._linger_seconds())
