"""Accepting one template for many users: rendered once, written with COPY (bulk_create off PostgreSQL),
and queued by a task that fans the batch out to delivery tasks."""

import datetime as dt
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, F
from django.db.models.functions import Cast
from django.utils import timezone
from psycopg.types.json import Jsonb

from consent_app.selectors import suppressed_among
from kit import metrics
from kit.lookups import AnyOf
from preferences_app.models import Device, UserPreference, is_user_id
from templates_app.models import NotificationType

from ..models import BulkSend, NotificationLog, NotificationStatus, Priority
from .events import LogChange, logs_changed_listened, logs_changed_send
from .lanes import Lane, lane_for
from .queue import BULK_SEND_ENQUEUE_TASK, chunks, fan_out_publish, logs_enqueue_turn
from .request import (SUPPRESSED, SendRequest, idempotency_earlier, request_digest, send_request_check,
                      send_schedule, text_validate_once)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BulkSendResult:
    batch_id: str
    accepted: int
    suppressed: int
    failed: int


BULK_CHUNK = 2000


def each_once(user_ids: list[int]) -> Iterator[int]:
    """The ids in ascending order, each once: a sorted copy costs a fifth of the memory of a set or a
    dict of 100,000 ids (and the logs come out in user order, which their indexes like)."""
    previous = None
    for user_id in sorted(user_ids):
        if user_id != previous:
            yield user_id
        previous = user_id


def notification_send_bulk(*, user_ids: list[int], template_name: str, context: dict | None = None,
                           channel: str | None = None, client: str = "", send_at: dt.datetime | None = None,
                           priority: str = Priority.NORMAL, idempotency_key: str | None = None,
                           ) -> tuple[BulkSendResult, bool]:
    """Accept one template for many users: rendered once, written with bulk inserts, enqueued in batches.

    Returns (result, created). Each user's preferences apply as for a single send. A user with no
    address on file for the channel gets a `failed` log saying so (the others still go). The same
    idempotency key from this client within 24 hours returns the first bulk send's result (created=False,
    nothing is sent again) when the request is the same, and raises RepeatWithOtherRequest (422, naming
    idempotency_key) when it is not: the rule of single sends and triggers. Raises ValidationError for the
    request as a whole (unknown template, missing variable, bad user ids, too many users, a bad idempotency
    key).
    """
    if not isinstance(user_ids, list) or not user_ids:
        raise ValidationError({"user_ids": "Must be a non-empty list of user ids."})
    if len(user_ids) > settings.NOTIFICATION_BULK_MAX_USERS:
        raise ValidationError({"user_ids": f"At most {settings.NOTIFICATION_BULK_MAX_USERS} users per call."})
    bad = [u for u in user_ids if not is_user_id(u)]
    if bad:
        raise ValidationError({"user_ids": f"Not valid user ids: {', '.join(map(str, bad[:5]))}."})
    digest = ""
    if idempotency_key is not None:  # a bulk send without a key pays for none of this
        digest = request_digest(user_ids=sorted(set(user_ids)), template_name=template_name, context=context or {},
                                channel=channel, send_at=send_at, priority=priority)
        earlier = idempotency_earlier(BulkSend, client=client, idempotency_key=idempotency_key, digest=digest,
                                      now=timezone.now())
        if earlier:
            return _bulk_result(earlier), False
    request = send_request_check(template_name=template_name, context=context, channel=channel, send_at=send_at,
                                 priority=priority, client=client)
    text_validate_once(request)  # the text is the same for everyone

    batch_id = uuid.uuid4()
    now = timezone.now()
    counts = {NotificationStatus.PENDING: 0, NotificationStatus.SUPPRESSED: 0, NotificationStatus.FAILED: 0}
    try:
        with transaction.atomic():
            _insert_bulk_logs(user_ids, request=request, batch_id=batch_id, now=now, counts=counts, client=client)
            if idempotency_key is not None:
                BulkSend.objects.create(batch_id=batch_id, client=client, idempotency_key=idempotency_key,
                                        request_hash=digest, accepted=counts[NotificationStatus.PENDING],
                                        suppressed=counts[NotificationStatus.SUPPRESSED],
                                        failed=counts[NotificationStatus.FAILED])
            transaction.on_commit(lambda: fan_out_publish(task=BULK_SEND_ENQUEUE_TASK, key=str(batch_id),
                                                          lane=_lane(request.priority)))
    except IntegrityError:
        # The same key arrived twice at once: the other request's bulk send stands, and this one wrote nothing.
        earlier = idempotency_earlier(BulkSend, client=client, idempotency_key=idempotency_key, digest=digest,
                                      now=now)
        if earlier is None:
            raise
        return _bulk_result(earlier), False
    metrics.notifications_accepted(channel=request.channel, counts=counts)
    logger.info("bulk notification accepted", extra={"batch_id": str(batch_id), "users": len(user_ids),
                                                      "channel": request.channel})
    return BulkSendResult(batch_id=str(batch_id), accepted=counts[NotificationStatus.PENDING],
                          suppressed=counts[NotificationStatus.SUPPRESSED],
                          failed=counts[NotificationStatus.FAILED]), True


def _bulk_result(record: BulkSend) -> BulkSendResult:
    return BulkSendResult(batch_id=str(record.batch_id), accepted=record.accepted, suppressed=record.suppressed,
                          failed=record.failed)


def _insert_bulk_logs(user_ids: list[int], *, request: SendRequest, batch_id: uuid.UUID, now: dt.datetime,
                      counts: dict[str, int], client: str) -> None:
    """Write one log per user (each once) for a checked bulk request, counting their statuses into `counts`."""
    template, rendered, kind = request.template, request.rendered, request.channel
    html_body = rendered.html_body if kind == NotificationType.EMAIL else ""
    # Every row shares these values; only user, recipient, status, error and schedule differ.
    head = (template.pk, template.name, template.version, kind)
    tail = (request.priority, rendered.subject, rendered.body, html_body, "", "", 0)
    stamp = (client, batch_id)
    metadata = request.in_app or None
    unquiet = send_schedule(preference=UserPreference(), request=request, now=now)  # for users without quiet hours
    # The phone number as stored (E.164 text): turning 100,000 of them into PhoneNumber objects and back
    # would cost more than everything else in a bulk send together.
    fields = ("user_id", f"{kind}_enabled", "email", "phone", "quiet_hours_start", "quiet_hours_end", "timezone")
    stored = UserPreference.objects.annotate(phone=Cast("phone_number", output_field=CharField()))
    listened = logs_changed_listened()
    for chunk in chunks(each_once(user_ids), BULK_CHUNK):
        # Plain tuples, not model instances: a chunk at a time, so memory stays flat whatever the count.
        preferences = {row[0]: row for row in stored.filter(AnyOf(F("user_id"), chunk)).values_list(*fields)}
        with_devices = set(Device.objects.filter(AnyOf(F("preference__user_id"), chunk), active=True)
                           .values_list("preference__user_id", flat=True)) if kind == "push" else set()
        listed = suppressed_among(channel=kind, addresses=[row[2] if kind == NotificationType.EMAIL else row[3]
                                                           for row in preferences.values()])
        rows = []
        for user_id in chunk:
            found = preferences.get(user_id)
            enabled, email, phone, quiet_start, quiet_end, zone = found[1:] if found else (True, "", "", None, None, "UTC")
            recipient = (email if kind == NotificationType.EMAIL else (phone or "") if kind == NotificationType.SMS
                         else str(user_id) if kind == NotificationType.IN_APP else "")
            scheduled_for = queued_at = error = None
            if not enabled:
                status, error = NotificationStatus.SUPPRESSED, SUPPRESSED.format(channel=kind)
            elif recipient in listed:
                status, error = NotificationStatus.SUPPRESSED, listed[recipient]
            elif not recipient and user_id not in with_devices:
                status, error = NotificationStatus.FAILED, f"No {kind} address on file for user {user_id}."
            else:
                status = NotificationStatus.PENDING
                scheduled_for = send_schedule(preference=UserPreference(
                    user_id=user_id, quiet_hours_start=quiet_start, quiet_hours_end=quiet_end, timezone=zone),
                    request=request, now=now) if quiet_start is not None else unquiet
                queued_at = now if scheduled_for is None else None
            counts[status] += 1
            rows.append((user_id, *head, status, *tail, recipient, error, *stamp, scheduled_for, queued_at, now, now,
                         metadata))
        ids = insert_logs(rows)
        if listened:
            logs_changed_send(changes=_bulk_changes(rows, ids, batch_id=batch_id, client=client))


# The columns `insert_logs` writes by default, in the order of the bulk send's rows; the others stay NULL.
BULK_COLUMNS = ("user_id", "template_id", "template_name", "template_version", "type", "status", "priority",
                "subject", "body", "html_body", "provider", "provider_message_id", "attempts", "recipient",
                "error_message", "client", "batch_id", "scheduled_for", "queued_at", "created_at", "updated_at",
                "notification_metadata")


def insert_logs(rows: list[tuple], columns: tuple[str, ...] = BULK_COLUMNS) -> list[int]:
    """Insert log rows (values of `columns`) in the current transaction: PostgreSQL's COPY, else bulk_create.
    Returns their ids, in the rows' order. On PostgreSQL the ids are taken from the log's sequence first
    and written by the COPY, which returns nothing: reading them back by user afterwards cost a bulk send
    a third of its time."""
    if connection.vendor != "postgresql":
        logs = NotificationLog.objects.bulk_create([NotificationLog(**dict(zip(columns, row))) for row in rows],
                                                   batch_size=500)
        return [log.pk for log in logs]
    table = NotificationLog._meta.db_table
    json_at = [index for index, column in enumerate(columns) if column == "notification_metadata"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [table, len(rows)])
        ids = sorted(row[0] for row in cursor.fetchall())
        with cursor.copy(f"COPY {table} (id, {', '.join(columns)}) FROM STDIN") as copy:
            for log_id, row in zip(ids, rows):
                if json_at and any(row[index] is not None for index in json_at):
                    row = tuple(Jsonb(value) if index in json_at and value is not None else value
                                for index, value in enumerate(row))
                copy.write_row((log_id, *row))
    return ids


_BULK_INDEX = {column: index for index, column in enumerate(BULK_COLUMNS)}


def _bulk_changes(rows: list[tuple], ids: list[int], *, batch_id: uuid.UUID, client: str) -> list[LogChange]:
    """The changes a chunk of bulk rows made (`ids` are theirs, in order). Only built when a receiver listens."""
    at, created = _BULK_INDEX["updated_at"], _BULK_INDEX["created_at"]
    user, status, error, name, kind = (_BULK_INDEX[column] for column in (
        "user_id", "status", "error_message", "template_name", "type"))
    return [LogChange(log_id=log_id, user_id=row[user], channel=row[kind], template_name=row[name], old_status="",
                      new_status=row[status], provider="", error_message=row[error], at=row[at],
                      idempotency_key=None, batch_id=batch_id, created_at=row[created], client=client)
            for log_id, row in zip(ids, rows)]


def _lane(priority: str) -> Lane:
    return lane_for(priority=priority, recipients=2)  # a bulk send is a send to many, whoever is on it


def bulk_send_enqueue(*, batch_id: uuid.UUID | str, after_id: int = 0, lane: Lane | None = None) -> None:
    """Queue a bulk send's pending, unscheduled logs with ids past `after_id` for delivery in `lane` (the
    fan-out task's own), in task-sized batches, one turn at a time (queue.logs_enqueue_turn)."""
    pending = NotificationLog.objects.filter(batch_id=batch_id, status=NotificationStatus.PENDING,
                                             scheduled_for__isnull=True)
    logs_enqueue_turn(pending=pending, lane=lane or Lane.BULK, continuation=BULK_SEND_ENQUEUE_TASK,
                      key=str(batch_id), after_id=after_id)
