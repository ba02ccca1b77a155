"""The pipeline's one hook for apps that react to a log's change of state (webhooks, inbox, rollups).

`logs_changed` is a Django signal sent with `sender=NotificationLog` and one argument, `changes`: a
list of `LogChange`, one per log whose status was written. It is sent inside the transaction of the
write, after the rows are written and before the commit, so a receiver's own writes (an outbox row,
a counter) commit or roll back with the change, and a receiver that raises undoes the change.
Receivers must therefore be quick and must not call out of the process; work for later goes
through `transaction.on_commit` or a row a worker picks up.

It is sent for every status a log is written with:

- accepted: a new log, `pending` or `suppressed` (old_status ''), one signal per single send and one
  per bulk or trigger chunk (their logs with no address on file are born `failed`);
- delivered by a worker: `sent` (one signal per group of sends written together) or `failed`;
- receipts from providers: `delivered`, `bounced`, `failed`;
- a pending log cancelled (`suppressed`) when its user's data is erased, or when its trigger is cancelled.

Claiming a log, releasing it, and a retry (it stays `pending`) are not changes of status and send
nothing. A write that finds the log already moved on (another worker, a receipt) changes nothing and
sends nothing, so each transition reaches a receiver once.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.dispatch import Signal

from logs_app.models import NotificationLog

logs_changed = Signal()


@dataclass(frozen=True)
class LogChange:
    """One log's change of status. `old_status` is '' for a log written for the first time."""

    log_id: int
    user_id: int
    channel: str
    template_name: str
    old_status: str
    new_status: str
    provider: str
    error_message: str | None
    at: dt.datetime
    idempotency_key: str | None
    batch_id: uuid.UUID | None
    created_at: dt.datetime  # the log's, which never changes: its hour is the rollup's bucket
    client: str = ""  # the API key (by prefix) that asked for the log: whose webhooks hear of it
    trigger_id: uuid.UUID | None = None


def logs_changed_listened() -> bool:
    """Whether any receiver is connected: a fast path skips building changes (and opening a
    transaction for them) when nobody listens."""
    return logs_changed.has_listeners(NotificationLog)


def logs_changed_send(*, changes: Sequence[LogChange]) -> None:
    """Tell the receivers about `changes` (nothing when the list is empty). Call inside the writing transaction."""
    if changes:
        logs_changed.send(sender=NotificationLog, changes=list(changes))


def log_change(log: NotificationLog, *, old_status: str) -> LogChange:
    """The change a log instance now carries (its status, provider, error and `updated_at` as written)."""
    return LogChange(log_id=log.pk, user_id=log.user_id, channel=log.type, template_name=log.template_name,
                     old_status=old_status, new_status=log.status, provider=log.provider,
                     error_message=log.error_message, at=log.updated_at, idempotency_key=log.idempotency_key,
                     batch_id=log.batch_id, created_at=log.created_at, client=log.client,
                     trigger_id=log.trigger_id)
