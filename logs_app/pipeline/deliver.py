"""Delivering claimed logs: each goes to its channel's providers with no transaction open; a transient
failure is retried after a backoff, and the `sent` outcomes are written together."""

import contextlib
import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.template.defaultfilters import pluralize
from django.utils import timezone

from consent_app.services import suppression_after_send_error
from kit import metrics
from kit.dispatch import task_dispatcher
from kit.logging import request_id_bound
from notification_channels import registry
from notification_channels.base import ChannelError, InvalidRecipient, Paced, PermanentError, TransientError
from notification_channels.base import ProviderCall as Call
from preferences_app.services import device_deactivate
from templates_app.models import NotificationType

from ..models import NotificationLog, NotificationStatus, ProviderCall
from .calls import call_rows, calls_write, describe
from .claim import lease_margin, logs_claim, logs_release
from .events import log_change, logs_changed_listened, logs_changed_send
from .messages import channel_message, log_rendered, push_targets, unsubscribe_headers_for
from .queue import logs_enqueue

logger = logging.getLogger(__name__)

# Delivered logs are marked `sent` together, this many at a time (see logs_deliver).
SENT_WRITE_EVERY = 20


def _finish(log: NotificationLog, **fields: Any) -> bool:
    """Record a final outcome, if the log is still pending (a receipt or another worker may have moved it)."""
    fields.setdefault("lease_expires_at", None)
    fields["updated_at"] = timezone.now()
    listened = logs_changed_listened()
    with transaction.atomic() if listened else contextlib.nullcontext():
        if not NotificationLog.objects.filter(pk=log.pk, status=NotificationStatus.PENDING).update(**fields):
            return False
        for name, value in fields.items():
            setattr(log, name, value)
        if listened:
            logs_changed_send(changes=[log_change(log, old_status=NotificationStatus.PENDING)])
    return True


def retry_backoff_seconds(*, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(settings.NOTIFICATION_RETRY_MAX_SECONDS, settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0)


def _deliver_push(log: NotificationLog, calls: list[Call]) -> tuple[str, str, dict]:
    """Send to each of the log's devices; deactivate the ones the platform says are gone.

    Returns (provider, message ids, per-device outcomes) if at least one device took it;
    raises the transient error if any device may still take it, else the permanent one.
    """
    rendered = log_rendered(log)
    targets = push_targets(user_id=log.user_id, recipient=log.recipient)
    accepted, outcomes, transient, permanent = [], {}, None, None
    for platform, token in targets:
        message = channel_message(channel="push", to=token, rendered=rendered, platform=platform, reference=str(log.pk))
        try:
            result = registry.deliver(message, calls=calls)
        except TransientError as err:
            transient, outcomes[token[-8:]] = err, f"retry: {err}"
        except ChannelError as err:
            permanent, outcomes[token[-8:]] = err, f"failed: {describe(err)}"
            if isinstance(err, InvalidRecipient) and err.deactivate and platform:
                device_deactivate(platform=platform, token=token)
        else:
            accepted.append(result)
            outcomes[token[-8:]] = f"sent: {result.message_id}"
    if accepted:
        return accepted[0].provider, ",".join(r.message_id for r in accepted)[:255], outcomes
    if transient:
        raise transient
    raise permanent or PermanentError("The user has no active push device.", provider="")


def log_deliver(*, log: NotificationLog, sent: list[NotificationLog] | None = None,
                calls: list[ProviderCall] | None = None) -> str:
    """Deliver a claimed log once and record the outcome; returns the resulting status.

    Transient failures leave it pending with `scheduled_for` set to the end of its backoff
    (and queue it for then), until the attempts run out and it is `failed`. With `sent` given, a
    success is not written at once but appended there, and the rows of its provider calls to `calls`,
    for the caller to write with the others (`logs_mark_sent`); failures and retries are always
    written at once, with their calls.
    """
    metadata: dict[str, Any] = {}
    made: list[Call] = []
    try:
        if log.type == NotificationType.PUSH:
            provider, message_id, metadata["devices"] = _deliver_push(log, made)
        else:
            in_app = log.notification_metadata if log.type == NotificationType.IN_APP else None
            result = registry.deliver(channel_message(channel=log.type, to=log.recipient,
                                               rendered=log_rendered(log),
                                               reference=str(log.pk), in_app=in_app,
                                               headers=unsubscribe_headers_for(log)), calls=made)
            # An in-app log keeps what it carried to the feed (action URL, data) beside the provider's detail.
            provider, message_id, metadata = result.provider, result.message_id, {**(in_app or {}), **result.detail}
    except TransientError as err:
        calls_write(call_rows(log=log, calls=made))
        paced = isinstance(err, Paced)  # the provider's pace had no slot soon: not a try of this message
        if log.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS and not paced:
            _finish(log, status=NotificationStatus.FAILED, provider=err.provider,
                    error_message=f"Gave up after {log.attempts} attempt{pluralize(log.attempts)}: {describe(err)}")
            metrics.notification_failed(channel=log.type, provider=err.provider)
            logger.warning("notification failed", extra={"log_id": log.pk, "attempts": log.attempts,
                                                         "provider": err.provider, "code": err.code})
            return NotificationStatus.FAILED
        delay = retry_backoff_seconds(attempt=log.attempts, retry_after=err.retry_after)
        retry_at = timezone.now() + dt.timedelta(seconds=delay)
        queue_now = task_dispatcher().defers  # in process, `dispatch_due` releases retries
        NotificationLog.objects.filter(pk=log.pk, status=NotificationStatus.PENDING).update(
            scheduled_for=retry_at, lease_expires_at=None, provider=err.provider,
            error_message=f"Attempt {log.attempts} failed: {describe(err)}", queued_at=timezone.now() if queue_now else None,
            updated_at=timezone.now(), **({"attempts": F("attempts") - 1} if paced else {}))
        if queue_now:
            logs_enqueue(log_ids=[log.pk], countdown=delay)
        metrics.notification_retried(channel=log.type, provider=err.provider)
        logger.info("notification retry scheduled", extra={"log_id": log.pk, "attempt": log.attempts,
                                                           "delay": round(delay, 2), "provider": err.provider})
        return NotificationStatus.PENDING
    except ChannelError as err:
        calls_write(call_rows(log=log, calls=made))
        _finish(log, status=NotificationStatus.FAILED, provider=err.provider, error_message=describe(err))
        suppression_after_send_error(channel=log.type, address=log.recipient, code=err.code, detail=describe(err),
                                     provider=err.provider)
        metrics.notification_failed(channel=log.type, provider=err.provider)
        logger.warning("notification failed", extra={"log_id": log.pk, "provider": err.provider, "code": err.code})
        return NotificationStatus.FAILED
    log.status, log.provider, log.provider_message_id = NotificationStatus.SENT, provider, message_id
    log.sent_at = log.updated_at = timezone.now()
    log.error_message, log.notification_metadata, log.lease_expires_at = None, metadata or None, None
    rows = call_rows(log=log, calls=made)
    if sent is None:
        logs_mark_sent(logs=[log], calls=rows)
        return NotificationStatus.SENT
    sent.append(log)
    if calls is None:
        calls_write(rows)
    else:
        calls.extend(rows)
    return NotificationStatus.SENT


def logs_mark_sent(*, logs: list[NotificationLog], request_ids: Mapping[str, str] | None = None,
                   calls: list[ProviderCall] | None = None) -> None:
    """Write the `sent` outcomes of delivered logs in one UPDATE, and their provider calls in one INSERT
    (one transaction); a log that is no longer pending (a receipt or another worker moved it on) keeps
    its state, and its calls are recorded all the same.

    Plain SQL (UPDATE ... FROM a VALUES list, PostgreSQL and SQLite alike): the ORM's bulk_update
    builds a CASE per field and row, which costs more Python time than the statement saves.
    """
    if not logs:
        calls_write(calls or [])
        return
    table, sent_at = NotificationLog._meta.db_table, NotificationLog._meta.get_field("sent_at")
    params: list[Any] = []
    for log in logs:
        params += [log.pk, log.provider, log.provider_message_id, sent_at.get_db_prep_value(log.sent_at, connection),
                   None if log.notification_metadata is None else json.dumps(log.notification_metadata)]
    metadata = "CAST(v.metadata AS jsonb)" if connection.vendor == "postgresql" else "v.metadata"
    sql = (f"WITH v (id, provider, message_id, sent_at, metadata) AS (VALUES "
           f"{', '.join(['(%s, %s, %s, %s, %s)'] * len(logs))}) "
           f"UPDATE {table} SET status = %s, provider = v.provider, provider_message_id = v.message_id, "
           f"sent_at = v.sent_at, updated_at = v.sent_at, error_message = NULL, notification_metadata = {metadata}, "
           f"lease_expires_at = NULL FROM v WHERE {table}.id = v.id AND {table}.status = %s RETURNING {table}.id")
    params += [NotificationStatus.SENT, NotificationStatus.PENDING]
    listened = logs_changed_listened()

    def write() -> None:
        with transaction.atomic() if listened or calls else contextlib.nullcontext():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                written = {row[0] for row in cursor.fetchall()}
            calls_write(calls or [])
            if listened:
                logs_changed_send(changes=[log_change(log, old_status=NotificationStatus.PENDING)
                                           for log in logs if log.pk in written])

    _write_retrying(write)
    for log in logs:
        metrics.notification_sent(channel=log.type, provider=log.provider, accepted_at=log.created_at)
        with request_id_bound((request_ids or {}).get(str(log.pk))):
            logger.info("notification sent", extra={"log_id": log.pk, "provider": log.provider,
                                                    "attempts": log.attempts})


# After a provider accepted a message, a lost database connection is retried this long (seconds)
# before the `sent` write is given up (the log then stays pending and is sent again after its lease).
SENT_WRITE_RETRY_SECONDS = 2.0


def _write_retrying(write: Callable[[], None]) -> None:
    """Run one write; if the connection drops, retry it on a fresh one for up to SENT_WRITE_RETRY_SECONDS."""
    deadline = time.monotonic() + SENT_WRITE_RETRY_SECONDS
    pause = 0.05
    while True:
        try:
            write()
            return
        except (OperationalError, InterfaceError) as err:
            if time.monotonic() + pause > deadline:
                raise
            logger.warning("database lost while recording sent messages; retrying",
                           extra={"error": type(err).__name__})
            if not connection.in_atomic_block:  # inside a transaction the caller's transaction is lost anyway
                connection.close()
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


def logs_deliver(*, log_ids: list[int], request_ids: Mapping[str, str] | None = None) -> dict[str, int]:
    """Claim and deliver the due logs among `log_ids` (the delivery task's body); counts by outcome.

    The claim is one short statement; then each message goes out through the process's pooled
    provider client with no transaction open, and the successes are written together, one UPDATE
    per `SENT_WRITE_EVERY` messages, with one INSERT of their provider calls (a worker lost in between leaves at most that many to be sent
    again once their lease runs out). A send only starts while the lease has at least
    NOTIFICATION_LEASE_MARGIN_SECONDS left; otherwise the sends in hand are written and the rest
    of the batch is released for another task, so no log is sent by two workers at once.
    Each log's lines carry the id of the request that accepted it, where `request_ids` names one.
    """
    request_ids = request_ids or {}
    outcomes: dict[str, int] = {}
    sent: list[NotificationLog] = []
    calls: list[ProviderCall] = []
    margin = lease_margin()
    try:
        claimed = logs_claim(log_ids=list(log_ids), now=timezone.now())
        for index, log in enumerate(claimed):
            if timezone.now() + margin > log.lease_expires_at:
                logs_mark_sent(logs=sent, request_ids=request_ids, calls=calls)
                sent, calls = [], []
                logs_release(logs=claimed[index:])
                outcomes["released"] = len(claimed) - index
                break
            with request_id_bound(request_ids.get(str(log.pk))):
                status = log_deliver(log=log, sent=sent, calls=calls)
            outcomes[status] = outcomes.get(status, 0) + 1
            if len(sent) >= SENT_WRITE_EVERY:
                logs_mark_sent(logs=sent, request_ids=request_ids, calls=calls)
                sent, calls = [], []
    finally:
        logs_mark_sent(logs=sent, request_ids=request_ids, calls=calls)
    return outcomes
