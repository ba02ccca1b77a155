"""The send pipeline: accept a notification, commit its log, deliver it, and record every outcome.

A log moves `pending -> sent | failed`, or is born `suppressed`; receipts move it on to
`delivered` / `bounced`. Nothing is handed to the queue before its log is committed, and a
pending log that the queue lost is found again by `sweep_due`, so a 202 is never forgotten.
"""

import contextlib
import datetime as dt
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import (CharField, DateTimeField, F, ForeignKey, IntegerField, Q, TextField,
                              UUIDField)
from django.db.models.functions import Cast
from django.utils import timezone

from notification_channels import registry
from notifications_project import metrics
from notifications_project.cache import prefetched
from notifications_project.logging import get_request_id, request_id_bound
from notification_channels.base import Channel, ChannelError, InvalidRecipient, Message, PermanentError, TransientError
from preferences_app.models import Device, UserPreference, is_user_id
from preferences_app.selectors import preference_cache_key
from preferences_app.services import device_deactivate, preference_get_or_default, quiet_hours_end_for
from templates_app.models import NotificationTemplate, NotificationType
from templates_app.rendering import RenderedMessage, context_too_deep
from templates_app.selectors import template_cache_key, template_get_by_name
from templates_app.services import template_render

from .models import BulkSend, NotificationLog, NotificationStatus, Priority
from .pipeline.events import LogChange, log_change, logs_changed_listened, logs_changed_send
from .publisher import Publisher

logger = logging.getLogger(__name__)

PAST_SEND_AT_GRACE = dt.timedelta(minutes=5)
MAX_SEND_AT_AHEAD = dt.timedelta(days=366)


# Accepting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkSendResult:
    batch_id: str
    accepted: int
    suppressed: int
    failed: int


@dataclass(frozen=True)
class _Request:
    """A send request whose fields have been checked, shared by single and bulk sends."""

    template: NotificationTemplate
    channel: str
    rendered: RenderedMessage
    priority: str
    send_at: dt.datetime | None
    client: str


# Django builds a choices enum's `values` anew, labels and all, on every read.
_PRIORITIES, _CHANNELS = frozenset(Priority.values), frozenset(NotificationType.values)


def _check_request(*, template_name: Any, context: Any, channel: str | None, send_at: dt.datetime | None,
                   priority: str, client: str) -> _Request:
    errors: dict[str, str] = {}
    if priority not in _PRIORITIES:
        errors["priority"] = f"Must be one of: {', '.join(Priority.values)}."
    if channel is not None and channel not in _CHANNELS:
        errors["channel"] = f"Must be one of: {', '.join(NotificationType.values)}."
    if context is not None and not isinstance(context, dict):
        errors["context"] = "Must be a JSON object."
    elif context is not None and (too_deep := context_too_deep(context)):
        errors["context"] = too_deep
    elif context is not None:
        size = len(json.dumps(context, default=str).encode())
        if size > settings.NOTIFICATION_MAX_CONTEXT_BYTES:
            errors["context"] = f"Is {size} bytes; the limit is {settings.NOTIFICATION_MAX_CONTEXT_BYTES}."
    if send_at is not None:
        if timezone.is_naive(send_at):
            send_at = timezone.make_aware(send_at, dt.timezone.utc)
        now = timezone.now()
        if send_at < now - PAST_SEND_AT_GRACE:
            errors["send_at"] = "Is in the past."
        elif send_at > now + MAX_SEND_AT_AHEAD:
            errors["send_at"] = "Is more than a year ahead."
    template = None
    if not isinstance(template_name, str) or not template_name:
        errors["template_name"] = "A template name is required."
    else:
        template = template_get_by_name(name=template_name)
        if template is None:
            errors["template_name"] = f"No template named {template_name!r}."
    if errors:
        raise ValidationError(errors)
    channel = channel or template.type
    if channel == NotificationType.EMAIL and not template.subject:
        raise ValidationError({"channel": f"Template {template.name!r} has no subject, so it cannot go by email."})
    rendered = template_render(template=template, context=context or {})
    return _Request(template=template, channel=channel, rendered=rendered, priority=priority,
                    send_at=send_at, client=client)


def _contact(preference: UserPreference, channel: str) -> str:
    """The address on file for a channel; push goes to every active device, so it has none."""
    if channel == NotificationType.EMAIL:
        return preference.email
    if channel == NotificationType.SMS:
        return preference.phone_e164
    return ""


def _message(*, channel: str, to: str, rendered: RenderedMessage, platform: str = "", reference: str = "") -> Message:
    return Message(channel=Channel(channel), to=to, body=rendered.body, subject=rendered.subject,
                   html_body=rendered.html_body or None if channel == NotificationType.EMAIL else None,
                   platform=platform, reference=reference)


# Where a send finds the address when neither the request nor the user's preferences have one: the context
# key of its channel, as the seed's adapters map channel fields from the context.
CONTEXT_CONTACT_KEYS = {NotificationType.EMAIL: "email", NotificationType.SMS: "phone",
                        NotificationType.PUSH: "device_token"}


def _context_contact(context: dict | None, channel: str) -> str:
    value = (context or {}).get(CONTEXT_CONTACT_KEYS[channel])
    return value if isinstance(value, str) else ""


def _push_targets(*, user_id: int, recipient: str) -> list[tuple[str, str]]:
    """(platform, token) pairs a push goes to: the named token, or the user's active devices."""
    devices = Device.objects.filter(preference__user_id=user_id, active=True)
    if recipient:
        known = devices.filter(token=recipient).values_list("platform", "token").first()
        return [known] if known else [("", recipient)]
    return list(devices.values_list("platform", "token"))


def _validate_delivery(*, channel: str, recipient: str, targets: list[tuple[str, str]],
                       rendered: RenderedMessage) -> None:
    """Channel checks at accept time (address syntax, SMS length, push token and size), as a 400."""
    messages = ([_message(channel=channel, to=token, rendered=rendered, platform=platform)
                 for platform, token in targets] if channel == NotificationType.PUSH
                else [_message(channel=channel, to=recipient, rendered=rendered)])
    for message in messages:
        try:
            registry.validate(message)
        except InvalidRecipient as err:
            raise ValidationError({"recipient": err.message}) from err
        except PermanentError as err:
            raise ValidationError({"message": err.message}) from err


def _schedule(*, preference: UserPreference, request: _Request, now: dt.datetime) -> dt.datetime | None:
    """When delivery may start: send_at, pushed to the end of quiet hours unless urgent."""
    due = request.send_at if request.send_at and request.send_at > now else None
    if request.priority != Priority.URGENT:
        quiet_end = quiet_hours_end_for(preference, due or now)
        if quiet_end:
            return quiet_end
    return due


SUPPRESSED = "Suppressed: the user turned off {channel} notifications."


def _suppression(preference: UserPreference, channel: str) -> str | None:
    if not preference.channel_enabled(channel):
        return SUPPRESSED.format(channel=channel)
    return None


def send_cache_keys(*, template_name: Any, user_id: Any) -> list[str]:
    """The shared-cache entries a send reads: its template's and its user's preferences'."""
    keys = [template_cache_key(template_name)] if isinstance(template_name, str) and template_name else []
    return keys + [preference_cache_key(user_id)] if is_user_id(user_id) else keys


def idempotency_key_problem(key: Any) -> str | None:
    """Why an idempotency key is refused (None when it is fine): the REST header and the services' argument."""
    if not isinstance(key, str) or not 1 <= len(key) <= 255 or "\x00" in key:
        return "Must be 1 to 255 characters, none of them NUL."
    return None


def _made_with_key(model: type[NotificationLog] | type[BulkSend], *, client: str,
                   idempotency_key: str | None) -> NotificationLog | BulkSend | None:
    """What this client's idempotency key already made (None without a key, or when it made nothing yet).
    Raises ValidationError for a bad key."""
    if idempotency_key is None:
        return None
    problem = idempotency_key_problem(idempotency_key)
    if problem:
        raise ValidationError({"idempotency_key": problem})
    return model.objects.filter(client=client, idempotency_key=idempotency_key).first()


def notification_send(*, user_id: int, template_name: str, context: dict | None = None, channel: str | None = None,
                      recipient: str | None = None, idempotency_key: str | None = None, client: str = "",
                      send_at: dt.datetime | None = None, priority: str = Priority.NORMAL,
                      ) -> tuple[NotificationLog, bool]:
    """Accept one notification: render, check preferences, commit the log, enqueue after commit.

    Returns (log, created). With an idempotency key already used by this client, the earlier log
    comes back with created=False and nothing is sent again. A channel the user turned off gives
    a `suppressed` log; quiet hours defer delivery to their end (`scheduled_for`) unless
    priority is urgent. Raises ValidationError keyed by field: template_name, context, channel,
    recipient, message (too long for SMS, too large for push), send_at, priority, user_id.
    """
    earlier = _made_with_key(NotificationLog, client=client, idempotency_key=idempotency_key)
    if earlier:
        return earlier, False
    # The template and the user's preferences come from the shared cache in one round trip.
    with prefetched(send_cache_keys(template_name=template_name, user_id=user_id)):
        request = _check_request(template_name=template_name, context=context, channel=channel, send_at=send_at,
                                 priority=priority, client=client)
        # Read, never created here: a refused send leaves no preferences row behind.
        preference = preference_get_or_default(user_id=user_id)
    now = timezone.now()
    log = NotificationLog(
        user_id=user_id, template=request.template, template_name=request.template.name,
        template_version=request.template.version, type=request.channel, priority=request.priority,
        subject=request.rendered.subject, body=request.rendered.body,
        html_body=request.rendered.html_body if request.channel == NotificationType.EMAIL else "",
        client=client, idempotency_key=idempotency_key,
    )
    log.recipient = recipient or _contact(preference, request.channel) or _context_contact(context, request.channel)
    suppressed = _suppression(preference, request.channel)
    if suppressed:
        log.status, log.error_message = NotificationStatus.SUPPRESSED, suppressed
    else:
        targets = _push_targets(user_id=user_id, recipient=log.recipient) if request.channel == "push" else []
        if not log.recipient and not targets:
            what = {"email": "email address", "sms": "phone number", "push": "active push device"}
            raise ValidationError({"recipient": f"User {user_id} has no {what[request.channel]} on file; name a "
                                                f"recipient, or give `{CONTEXT_CONTACT_KEYS[request.channel]}` "
                                                f"in the context."})
        _validate_delivery(channel=request.channel, recipient=log.recipient, targets=targets,
                           rendered=request.rendered)
        log.scheduled_for = _schedule(preference=preference, request=request, now=now)
    listened = logs_changed_listened()
    try:
        # One INSERT is atomic on its own: outside a transaction it commits by itself (no BEGIN/COMMIT round
        # trips) and the on-commit hook runs right after it; inside one, a savepoint keeps a clash recoverable.
        # A receiver of `logs_changed` writes in the INSERT's transaction, so then there is one.
        with transaction.atomic() if connection.in_atomic_block or listened else contextlib.nullcontext():
            if log.status == NotificationStatus.PENDING and log.scheduled_for is None:
                log.queued_at = now
            _insert_log(log)
            if listened:
                logs_changed_send(changes=[log_change(log, old_status="")])
            # Hooks run in order: "accepted" is logged at the commit, before an in-process delivery logs "sent".
            transaction.on_commit(lambda: _log_accepted(log))
            if log.queued_at:
                transaction.on_commit(lambda: enqueue_soon(log.pk))
    except IntegrityError:
        # The same idempotency key arrived twice at once; the other request's log stands.
        earlier = NotificationLog.objects.filter(client=client, idempotency_key=idempotency_key).first()
        if earlier is None:
            raise
        return earlier, False
    metrics.notification_accepted(channel=log.type, status=log.status)
    return log, True


def _log_accepted(log: NotificationLog) -> None:
    logger.info("notification accepted", extra={"log_id": log.pk, "user_id": log.user_id, "channel": log.type,
                                                 "status": log.status, "scheduled_for": log.scheduled_for})


_LOG_FIELDS = tuple(field for field in NotificationLog._meta.concrete_fields if not field.primary_key)
# psycopg takes these fields' values as they are (text, numbers, aware datetimes, UUIDs); any other
# field's value (JSON) goes through Django's preparation.
_LOG_FIELDS_PREPARED = tuple(
    not isinstance(field, (CharField, TextField, IntegerField, ForeignKey, DateTimeField, UUIDField))
    for field in _LOG_FIELDS)
_INSERT_LOG = (f"INSERT INTO {NotificationLog._meta.db_table} ({', '.join(field.column for field in _LOG_FIELDS)}) "
               f"VALUES ({', '.join(['%s'] * len(_LOG_FIELDS))}) RETURNING id")


def _insert_log(log: NotificationLog) -> None:
    """Insert a new log and give it its id. On PostgreSQL one INSERT ... RETURNING whose text is built once:
    Model.save() spent longer in Python compiling the INSERT than the statement took (a tenth of a send)."""
    if connection.vendor != "postgresql":
        log.save()
        return
    log.created_at = log.updated_at = timezone.now()
    with connection.cursor() as cursor:
        values = [getattr(log, field.attname) for field in _LOG_FIELDS]
        cursor.execute(_INSERT_LOG, [field.get_db_prep_save(value, connection) if prepared else value
                                     for field, value, prepared in zip(_LOG_FIELDS, values, _LOG_FIELDS_PREPARED)])
        log.pk = cursor.fetchone()[0]
    log._state.adding, log._state.db = False, connection.alias


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


BULK_CHUNK = 2000
# Delivered logs are marked `sent` together, this many at a time (see deliver_logs).
SENT_WRITE_EVERY = 20


def _each_once(user_ids: list[int]) -> Iterator[int]:
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
    address on file for the channel gets a `failed` log saying so (the others still go). With an
    idempotency key already used by this client, the first bulk send's result comes back with
    created=False and nothing is sent again (the same rule as single sends). Raises ValidationError
    for the request as a whole (unknown template, missing variable, bad user ids, too many users,
    a bad idempotency key).
    """
    earlier = _made_with_key(BulkSend, client=client, idempotency_key=idempotency_key)
    if earlier:
        return _bulk_result(earlier), False
    if not isinstance(user_ids, list) or not user_ids:
        raise ValidationError({"user_ids": "Must be a non-empty list of user ids."})
    if len(user_ids) > settings.NOTIFICATION_BULK_MAX_USERS:
        raise ValidationError({"user_ids": f"At most {settings.NOTIFICATION_BULK_MAX_USERS} users per call."})
    bad = [u for u in user_ids if not is_user_id(u)]
    if bad:
        raise ValidationError({"user_ids": f"Not valid user ids: {', '.join(map(str, bad[:5]))}."})
    request = _check_request(template_name=template_name, context=context, channel=channel, send_at=send_at,
                             priority=priority, client=client)
    if request.channel == NotificationType.PUSH:
        _validate_delivery(channel="push", recipient="", targets=[], rendered=request.rendered)
    else:
        # The text is the same for everyone: check its length once against a valid address.
        probe = "probe@example.com" if request.channel == NotificationType.EMAIL else "+14155550100"
        _validate_delivery(channel=request.channel, recipient=probe, targets=[], rendered=request.rendered)

    batch_id = uuid.uuid4()
    now = timezone.now()
    counts = {NotificationStatus.PENDING: 0, NotificationStatus.SUPPRESSED: 0, NotificationStatus.FAILED: 0}
    try:
        with transaction.atomic():
            _insert_bulk_logs(user_ids, request=request, batch_id=batch_id, now=now, counts=counts, client=client)
            if idempotency_key is not None:
                BulkSend.objects.create(batch_id=batch_id, client=client, idempotency_key=idempotency_key,
                                        accepted=counts[NotificationStatus.PENDING],
                                        suppressed=counts[NotificationStatus.SUPPRESSED],
                                        failed=counts[NotificationStatus.FAILED])
            transaction.on_commit(lambda: _enqueue_later(batch_id))
    except IntegrityError:
        # The same key arrived twice at once: the other request's bulk send stands, and this one wrote nothing.
        earlier = BulkSend.objects.filter(client=client, idempotency_key=idempotency_key).first()
        if idempotency_key is None or earlier is None:
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


def _insert_bulk_logs(user_ids: list[int], *, request: _Request, batch_id: uuid.UUID, now: dt.datetime,
                      counts: dict[str, int], client: str) -> None:
    """Write one log per user (each once) for a checked bulk request, counting their statuses into `counts`."""
    template, rendered, kind = request.template, request.rendered, request.channel
    html_body = rendered.html_body if kind == NotificationType.EMAIL else ""
    # Every row shares these values; only user, recipient, status, error and schedule differ.
    head = (template.pk, template.name, template.version, kind)
    tail = (request.priority, rendered.subject, rendered.body, html_body, "", "", 0)
    stamp = (client, batch_id)
    unquiet = _schedule(preference=UserPreference(), request=request, now=now)  # for users without quiet hours
    # The phone number as stored (E.164 text): turning 100,000 of them into PhoneNumber objects and back
    # would cost more than everything else in a bulk send together.
    fields = ("user_id", f"{kind}_enabled", "email", "phone", "quiet_hours_start", "quiet_hours_end", "timezone")
    stored = UserPreference.objects.annotate(phone=Cast("phone_number", output_field=CharField()))
    listened = logs_changed_listened()
    for chunk in _chunks(_each_once(user_ids), BULK_CHUNK):
        # Plain tuples, not model instances: a chunk at a time, so memory stays flat whatever the count.
        preferences = {row[0]: row for row in stored.filter(user_id__in=chunk).values_list(*fields)}
        with_devices = set(Device.objects.filter(preference__user_id__in=chunk, active=True)
                           .values_list("preference__user_id", flat=True)) if kind == "push" else set()
        rows = []
        for user_id in chunk:
            found = preferences.get(user_id)
            enabled, email, phone, quiet_start, quiet_end, zone = found[1:] if found else (True, "", "", None, None, "UTC")
            recipient = email if kind == NotificationType.EMAIL else (phone or "") if kind == NotificationType.SMS else ""
            scheduled_for = queued_at = error = None
            if not enabled:
                status, error = NotificationStatus.SUPPRESSED, SUPPRESSED.format(channel=kind)
            elif not recipient and user_id not in with_devices:
                status, error = NotificationStatus.FAILED, f"No {kind} address on file for user {user_id}."
            else:
                status = NotificationStatus.PENDING
                scheduled_for = _schedule(preference=UserPreference(
                    user_id=user_id, quiet_hours_start=quiet_start, quiet_hours_end=quiet_end, timezone=zone),
                    request=request, now=now) if quiet_start is not None else unquiet
                queued_at = now if scheduled_for is None else None
            counts[status] += 1
            rows.append((user_id, *head, status, *tail, recipient, error, *stamp, scheduled_for, queued_at, now, now))
        _insert_logs(rows)
        if listened:
            logs_changed_send(changes=_bulk_changes(rows, batch_id=batch_id))


# The columns `_insert_logs` writes, in the order of the bulk send's rows; the others stay NULL.
BULK_COLUMNS = ("user_id", "template_id", "template_name", "template_version", "type", "status", "priority",
                "subject", "body", "html_body", "provider", "provider_message_id", "attempts", "recipient",
                "error_message", "client", "batch_id", "scheduled_for", "queued_at", "created_at", "updated_at")


def _insert_logs(rows: list[tuple]) -> None:
    """Insert log rows (BULK_COLUMNS) in the current transaction: PostgreSQL's COPY, else bulk_create."""
    if connection.vendor == "postgresql":
        table, columns = NotificationLog._meta.db_table, ", ".join(BULK_COLUMNS)
        with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        NotificationLog.objects.bulk_create([NotificationLog(**dict(zip(BULK_COLUMNS, row))) for row in rows],
                                            batch_size=500)


_BULK_INDEX = {column: index for index, column in enumerate(BULK_COLUMNS)}


def _bulk_changes(rows: list[tuple], *, batch_id: uuid.UUID) -> list[LogChange]:
    """The changes a chunk of bulk rows made. COPY gives no ids back, so they are read by (batch, user):
    a bulk send has each user once. Only done when a receiver listens."""
    ids = dict(NotificationLog.objects.filter(batch_id=batch_id, user_id__in=[row[0] for row in rows])
               .values_list("user_id", "id"))
    at = _BULK_INDEX["updated_at"]
    status, error, name, kind = (_BULK_INDEX[column] for column in ("status", "error_message", "template_name", "type"))
    return [LogChange(log_id=ids[row[0]], user_id=row[0], channel=row[kind], template_name=row[name], old_status="",
                      new_status=row[status], provider="", error_message=row[error], at=row[at],
                      idempotency_key=None, batch_id=batch_id) for row in rows]


def _enqueue_later(batch_id: uuid.UUID) -> None:
    """Queue the batch's fan-out as one task: the worker, not the request, publishes its delivery tasks."""
    from .tasks import enqueue_batch

    try:
        _queue_task(enqueue_batch, args=[str(batch_id)])
    except Exception as err:  # as in `enqueue`: the logs are committed, and the sweep will queue them
        logger.warning("could not queue a bulk send; the sweep will retry",
                       extra={"batch_id": str(batch_id), "error": type(err).__name__})


def enqueue_batch(*, batch_id: uuid.UUID | str) -> None:
    """Queue a bulk send's pending, unscheduled logs for delivery, in task-sized batches."""
    ids = (NotificationLog.objects.filter(batch_id=batch_id, status=NotificationStatus.PENDING,
                                          scheduled_for__isnull=True)
           .values_list("id", flat=True).order_by("id").iterator(chunk_size=BULK_CHUNK))
    enqueue(ids)


# Queueing -------------------------------------------------------------------------------------


def _queue_task(task: Any, *, args: list[Any], **options: Any) -> None:
    """Queue a task, or run it at once when tasks run in process: Celery's eager `apply_async` would still
    open a producer on the broker there is none of, and kombu would warn "No hostname was supplied"."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        task.apply(args=args, headers=options.get("headers"))
    else:
        task.apply_async(args=args, **options)


def enqueue(log_ids: Iterable[int], *, countdown: float | None = None,
            request_ids: Mapping[int, str] | None = None) -> None:
    """Hand logs to the delivery task in batches. A broker outage is logged, not raised:
    the logs are committed, and the sweep queues them again once the broker is back.

    `request_ids` names the API request behind each log, for the worker's log lines about it
    (the task message carries them in its `request_ids` header).
    """
    from .tasks import deliver_logs

    for batch in _chunks(log_ids, settings.NOTIFICATION_TASK_BATCH_SIZE):
        options: dict[str, Any] = {"countdown": countdown}
        if request_ids:
            options["headers"] = {"request_ids": {str(i): request_ids[i] for i in batch if i in request_ids}}
        try:
            _queue_task(deliver_logs, args=[batch], **options)
        except Exception as err:  # kombu raises several types; every one means "not queued now"
            logger.warning("could not queue notifications; the sweep will retry",
                           extra={"log_ids": batch[:10], "count": len(batch), "error": type(err).__name__})


def _publish_linger_seconds() -> float:
    return max(0, settings.NOTIFICATION_PUBLISH_LINGER_MS) / 1000


def _publish_accepted(accepted: list[tuple[int, str | None]]) -> None:
    """Queue (log id, request id) pairs from the publisher thread. When they all came from one request,
    the task carries that request's id as its own, as if the request had queued it."""
    request_ids = {log_id: request_id for log_id, request_id in accepted if request_id}
    shared = set(request_ids.values())
    one_request = shared.pop() if len(shared) == 1 and len(request_ids) == len(accepted) else None
    with request_id_bound(one_request):
        enqueue([log_id for log_id, _ in accepted], request_ids=request_ids)


_publisher = Publisher(_publish_accepted, linger_seconds=_publish_linger_seconds)


def enqueue_soon(log_id: int) -> None:
    """Queue one committed log: through this process's publisher thread, which batches what arrives
    together (see logs_app/publisher.py), or at once when tasks run in process."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        enqueue([log_id])
    else:
        _publisher.add((log_id, get_request_id()))


def _due(now: dt.datetime) -> Q:
    return (Q(status=NotificationStatus.PENDING)
            & (Q(scheduled_for__isnull=True) | Q(scheduled_for__lte=now))
            & (Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)))


def sweep_due(*, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Queue pending logs that are due and not queued recently: scheduled or deferred logs whose
    time has come, retries whose backoff is over, and logs whose queue message or worker was lost.
    Returns how many were queued."""
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER_SECONDS)
    with transaction.atomic():
        ids = list(NotificationLog.objects.select_for_update(skip_locked=True)
                   .filter(_due(now) & (Q(queued_at__isnull=True) | Q(queued_at__lt=stale)))
                   .order_by("scheduled_for", "id").values_list("id", flat=True)[:limit])
        NotificationLog.objects.filter(pk__in=ids).update(queued_at=now)
    if ids:
        transaction.on_commit(lambda: enqueue(ids))
        logger.info("sweep queued notifications", extra={"count": len(ids)})
    return len(ids)


# Delivering -----------------------------------------------------------------------------------


# What delivery reads of a log, and what its `logs_changed` changes carry; in the model's order of fields,
# which `Model.from_db` expects of the claim's RETURNING row.
_CLAIM_COLUMNS = tuple(field.attname for field in NotificationLog._meta.concrete_fields if field.attname in {
    "id", "user_id", "type", "recipient", "subject", "body", "html_body", "attempts", "created_at",
    "template_name", "idempotency_key", "batch_id"})


def _claim(log_ids: list[int], now: dt.datetime) -> list[NotificationLog]:
    """Take the due logs among `log_ids` for this worker for one lease; others skip them.

    On PostgreSQL one statement (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING),
    elsewhere a short transaction through the ORM. Each claimed log carries its `lease_expires_at`.
    """
    lease = now + dt.timedelta(seconds=settings.NOTIFICATION_LEASE_SECONDS)
    if not log_ids:
        return []
    if connection.vendor == "postgresql":
        table = NotificationLog._meta.db_table
        columns = ", ".join(_CLAIM_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET lease_expires_at = %s, attempts = attempts + 1 WHERE id IN ("
                f"SELECT id FROM {table} WHERE id = ANY(%s) AND status = %s "
                f"AND (scheduled_for IS NULL OR scheduled_for <= %s) "
                f"AND (lease_expires_at IS NULL OR lease_expires_at < %s) "
                f"ORDER BY id FOR UPDATE SKIP LOCKED) RETURNING {columns}",
                [lease, list(log_ids), NotificationStatus.PENDING, now, now])
            rows = cursor.fetchall()
        claimed = [NotificationLog.from_db(connection.alias, _CLAIM_COLUMNS, row) for row in sorted(rows)]
        for log in claimed:
            log.lease_expires_at = lease
        return claimed
    with transaction.atomic():
        claimed = list(NotificationLog.objects.select_for_update(skip_locked=True)
                       .filter(_due(now), pk__in=log_ids)
                       .only(*_CLAIM_COLUMNS)
                       .order_by("id"))
        ids = [log.pk for log in claimed]
        NotificationLog.objects.filter(pk__in=ids).update(lease_expires_at=lease, attempts=F("attempts") + 1)
    for log in claimed:
        log.attempts += 1
        log.lease_expires_at = lease
    return claimed


def _release(logs: list[NotificationLog]) -> None:
    """Give back claimed logs this worker will not send before its lease runs too short: they are
    pending again, unleased, with the attempt not counted, and queued again (or left to the sweep)."""
    if not logs:
        return
    queue_now = not settings.CELERY_TASK_ALWAYS_EAGER
    now = timezone.now()
    ids = [log.pk for log in logs]
    released = NotificationLog.objects.filter(
        pk__in=ids, status=NotificationStatus.PENDING, lease_expires_at=logs[0].lease_expires_at,
    ).update(lease_expires_at=None, attempts=F("attempts") - 1, queued_at=now if queue_now else None,
             updated_at=now)
    logger.warning("lease running short; released the rest of the batch",
                   extra={"count": released, "log_ids": ids[:10]})
    if queue_now:
        enqueue(ids)


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


def backoff_seconds(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(settings.NOTIFICATION_RETRY_MAX_SECONDS, settings.NOTIFICATION_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0)


def _deliver_push(log: NotificationLog) -> tuple[str, str, dict]:
    """Send to each of the log's devices; deactivate the ones the platform says are gone.

    Returns (provider, message ids, per-device outcomes) if at least one device took it;
    raises the transient error if any device may still take it, else the permanent one.
    """
    rendered = RenderedMessage(subject=log.subject, body=log.body, html_body="")
    targets = _push_targets(user_id=log.user_id, recipient=log.recipient)
    accepted, outcomes, transient, permanent = [], {}, None, None
    for platform, token in targets:
        message = _message(channel="push", to=token, rendered=rendered, platform=platform, reference=str(log.pk))
        try:
            result = registry.deliver(message)
        except TransientError as err:
            transient, outcomes[token[-8:]] = err, f"retry: {err}"
        except ChannelError as err:
            permanent, outcomes[token[-8:]] = err, f"failed: {_describe(err)}"
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


def _describe(err: ChannelError) -> str:
    return f"{err} (code {err.code})" if err.code not in (None, "") and str(err.code) not in str(err) else str(err)


def deliver_one(log: NotificationLog, *, sent: list[NotificationLog] | None = None) -> str:
    """Deliver a claimed log once and record the outcome; returns the resulting status.

    Transient failures leave it pending with `scheduled_for` set to the end of its backoff
    (and queue it for then), until the attempts run out and it is `failed`. With `sent` given, a
    success is not written at once but appended there, for the caller to write with the others
    (`_record_sent`); failures and retries are always written at once.
    """
    metadata: dict[str, Any] = {}
    try:
        if log.type == NotificationType.PUSH:
            provider, message_id, metadata["devices"] = _deliver_push(log)
        else:
            result = registry.deliver(_message(channel=log.type, to=log.recipient,
                                               rendered=RenderedMessage(log.subject, log.body, log.html_body),
                                               reference=str(log.pk)))
            provider, message_id, metadata = result.provider, result.message_id, dict(result.detail)
    except TransientError as err:
        if log.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
            _finish(log, status=NotificationStatus.FAILED, provider=err.provider,
                    error_message=f"Gave up after {log.attempts} attempts: {_describe(err)}")
            metrics.notification_failed(channel=log.type, provider=err.provider)
            logger.warning("notification failed", extra={"log_id": log.pk, "attempts": log.attempts,
                                                         "provider": err.provider, "code": err.code})
            return NotificationStatus.FAILED
        delay = backoff_seconds(log.attempts, err.retry_after)
        retry_at = timezone.now() + dt.timedelta(seconds=delay)
        queue_now = not settings.CELERY_TASK_ALWAYS_EAGER  # in process, `dispatch_due` releases retries
        NotificationLog.objects.filter(pk=log.pk, status=NotificationStatus.PENDING).update(
            scheduled_for=retry_at, lease_expires_at=None, provider=err.provider,
            error_message=f"Attempt {log.attempts} failed: {_describe(err)}", queued_at=timezone.now() if queue_now else None,
            updated_at=timezone.now())
        if queue_now:
            enqueue([log.pk], countdown=delay)
        metrics.notification_retried(channel=log.type, provider=err.provider)
        logger.info("notification retry scheduled", extra={"log_id": log.pk, "attempt": log.attempts,
                                                           "delay": round(delay, 2), "provider": err.provider})
        return NotificationStatus.PENDING
    except ChannelError as err:
        _finish(log, status=NotificationStatus.FAILED, provider=err.provider, error_message=_describe(err))
        metrics.notification_failed(channel=log.type, provider=err.provider)
        logger.warning("notification failed", extra={"log_id": log.pk, "provider": err.provider, "code": err.code})
        return NotificationStatus.FAILED
    log.status, log.provider, log.provider_message_id = NotificationStatus.SENT, provider, message_id
    log.sent_at = log.updated_at = timezone.now()
    log.error_message, log.notification_metadata, log.lease_expires_at = None, metadata or None, None
    if sent is not None:
        sent.append(log)
        return NotificationStatus.SENT
    _record_sent([log])
    return NotificationStatus.SENT


def _record_sent(logs: list[NotificationLog], request_ids: Mapping[str, str] | None = None) -> None:
    """Write the `sent` outcomes of delivered logs in one UPDATE; a log that is no longer pending
    (a receipt or another worker moved it on) keeps its state.

    Plain SQL (UPDATE ... FROM a VALUES list, PostgreSQL and SQLite alike): the ORM's bulk_update
    builds a CASE per field and row, which costs more Python time than the statement saves.
    """
    if not logs:
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
        with transaction.atomic() if listened else contextlib.nullcontext():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                written = {row[0] for row in cursor.fetchall()}
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


def _lease_margin() -> dt.timedelta:
    """How much of its lease a log must have left for a send to start: a provider's worst case
    (its timeouts) plus the `sent` write's retries, so no send can outlive the lease."""
    return dt.timedelta(seconds=settings.NOTIFICATION_LEASE_MARGIN_SECONDS)


def deliver_logs(log_ids: list[int], *, request_ids: Mapping[str, str] | None = None) -> dict[str, int]:
    """Claim and deliver the due logs among `log_ids` (the delivery task's body); counts by outcome.

    The claim is one short statement; then each message goes out through the process's pooled
    provider client with no transaction open, and the successes are written together, one UPDATE
    per `SENT_WRITE_EVERY` messages (a worker lost in between leaves at most that many to be sent
    again once their lease runs out). A send only starts while the lease has at least
    NOTIFICATION_LEASE_MARGIN_SECONDS left; otherwise the sends in hand are written and the rest
    of the batch is released for another task, so no log is sent by two workers at once.
    Each log's lines carry the id of the request that accepted it, where `request_ids` names one.
    """
    request_ids = request_ids or {}
    outcomes: dict[str, int] = {}
    sent: list[NotificationLog] = []
    margin = _lease_margin()
    try:
        claimed = _claim(list(log_ids), timezone.now())
        for index, log in enumerate(claimed):
            if timezone.now() + margin > log.lease_expires_at:
                _record_sent(sent, request_ids)
                sent = []
                _release(claimed[index:])
                outcomes["released"] = len(claimed) - index
                break
            with request_id_bound(request_ids.get(str(log.pk))):
                status = deliver_one(log, sent=sent)
            outcomes[status] = outcomes.get(status, 0) + 1
            if len(sent) >= SENT_WRITE_EVERY:
                _record_sent(sent, request_ids)
                sent = []
    finally:
        _record_sent(sent, request_ids)
    return outcomes


# Receipts -------------------------------------------------------------------------------------


RECEIPT_STATUSES = {NotificationStatus.DELIVERED, NotificationStatus.FAILED, NotificationStatus.BOUNCED}


def log_record_receipt(*, provider: str, message_id: str, status: str, error: str = "") -> int:
    """A provider's receipt: move the log it names from `sent` to delivered, failed or bounced.

    Receipts never move a log backwards (a late "delivered" after a bounce changes nothing).
    Returns how many logs changed.
    """
    if status not in RECEIPT_STATUSES:
        raise ValueError(f"not a receipt status: {status}")
    now = timezone.now()
    fields: dict[str, Any] = {"status": status, "updated_at": now}
    if status == NotificationStatus.DELIVERED:
        fields["delivered_at"] = now
    else:
        fields["error_message"] = error or f"Reported {status} by {provider}."
    movable = NotificationLog.objects.filter(provider=provider, provider_message_id=message_id,
                                             status__in=[NotificationStatus.SENT, NotificationStatus.PENDING])
    with transaction.atomic():
        # Locked first, so the changes told to `logs_changed` are exactly the rows this UPDATE moves.
        logs = list(movable.select_for_update().only(*_CLAIM_COLUMNS, "status", "provider", "error_message"))
        changed = movable.filter(pk__in=[log.pk for log in logs]).update(**fields)
        changes = []
        for log in logs:
            old_status = log.status
            log.status, log.updated_at = status, now
            log.error_message = fields.get("error_message", log.error_message)
            changes.append(log_change(log, old_status=old_status))
        logs_changed_send(changes=changes)
    metrics.receipt_recorded(provider=provider, status=status, changed=changed)
    logger.info("receipt recorded", extra={"provider": provider, "status": status, "changed": changed})
    return changed
