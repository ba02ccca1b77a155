"""Accepting one notification: check it, write its log (pending or suppressed), queue it after the commit.

A log moves `pending -> sent | failed`, or is born `suppressed`; receipts move it on to
`delivered` / `bounced`. Nothing is handed to the queue before its log is committed, and a
pending log that the queue lost is found again by the sweep, so a 202 is never forgotten.
"""

import contextlib
import datetime as dt
import enum
import logging
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, DateTimeField, ForeignKey, IntegerField, TextField, UUIDField
from django.utils import timezone

from consent_app.selectors import suppression_reason
from kit import metrics
from kit.cache import prefetched
from preferences_app.models import UserPreference
from preferences_app.services import preference_get_or_default
from templates_app.models import NotificationType

from ..models import NotificationLog, NotificationStatus, Priority
from .events import log_change, logs_changed_listened, logs_changed_send
from .messages import push_targets
from .queue import log_enqueue_soon
from .request import (SUPPRESSED, delivery_validate, idempotency_earlier, idempotency_key_add, request_digest,
                      send_cache_keys, send_request_check, send_schedule)

logger = logging.getLogger(__name__)


class Deferral(enum.StrEnum):
    """Why an accepted log waits before its delivery starts."""

    REQUESTED = "requested"  # the caller's send_at
    QUIET_HOURS = "quiet hours"  # the user's quiet hours (send_at, if any, fell inside them)


class Accepted(NamedTuple):
    """What a send did: its log, whether this call created it (False: an earlier send with the same
    idempotency key answers), and why the log waits, when it does."""

    log: NotificationLog
    created: bool
    deferred: Deferral | None = None


def _contact(preference: UserPreference, channel: str) -> str:
    """The address on file for a channel; push goes to every active device, so it has none."""
    if channel == NotificationType.EMAIL:
        return preference.email
    if channel == NotificationType.SMS:
        return preference.phone_e164
    if channel == NotificationType.IN_APP:
        return str(preference.user_id)
    return ""


# Where a send finds the address when neither the request nor the user's preferences have one: the context
# key of its channel, as the seed's adapters map channel fields from the context.
CONTEXT_CONTACT_KEYS = {NotificationType.EMAIL: "email", NotificationType.SMS: "phone",
                        NotificationType.PUSH: "device_token"}


def _context_contact(context: dict | None, channel: str) -> str:
    value = (context or {}).get(CONTEXT_CONTACT_KEYS[channel])
    return value if isinstance(value, str) else ""


def _suppression(preference: UserPreference, channel: str, recipient: str) -> str | None:
    """Why a send is suppressed: the user turned the channel off, or the address is on the suppression list."""
    if not preference.channel_enabled(channel):
        return SUPPRESSED.format(channel=channel)
    return suppression_reason(channel=channel, address=recipient)


def notification_send(*, user_id: int, template_name: str, context: dict | None = None, channel: str | None = None,
                      recipient: str | None = None, idempotency_key: str | None = None, client: str = "",
                      send_at: dt.datetime | None = None, priority: str = Priority.NORMAL,
                      ) -> Accepted:
    """Accept one notification: render, check preferences, commit the log, enqueue after commit.

    Returns Accepted(log, created, deferred). The same idempotency key from this client within 24 hours returns the
    earlier log (created=False, nothing is sent again) when the request is the same, and raises
    RepeatWithOtherRequest (422, naming idempotency_key) when it is not. A channel the user turned off
    gives a `suppressed` log; quiet hours defer delivery to their end (`scheduled_for`) unless
    priority is urgent. Raises ValidationError keyed by field: template_name, context, channel,
    recipient, message (too long for SMS, too large for push), send_at, priority, user_id, idempotency_key.
    """
    digest = None
    if idempotency_key is not None:  # a send without a key pays for none of this
        digest = request_digest(user_id=user_id, template_name=template_name, context=context or {}, channel=channel,
                                recipient=recipient, send_at=send_at, priority=priority)
        earlier = idempotency_earlier(NotificationLog, client=client, idempotency_key=idempotency_key, digest=digest,
                                      now=timezone.now())
        if earlier:
            return Accepted(earlier, False)
    # The template and the user's preferences come from the shared cache in one round trip.
    with prefetched(send_cache_keys(template_name=template_name, user_id=user_id)):
        request = send_request_check(template_name=template_name, context=context, channel=channel,
                                     send_at=send_at, priority=priority, client=client)
        # Read, never created here: a refused send leaves no preferences row behind.
        preference = preference_get_or_default(user_id=user_id)
    now = timezone.now()
    log = NotificationLog(
        user_id=user_id, template=request.template, template_name=request.template.name,
        template_version=request.template.version, type=request.channel, priority=request.priority,
        subject=request.rendered.subject, body=request.rendered.body,
        html_body=request.rendered.html_body if request.channel == NotificationType.EMAIL else "",
        client=client, idempotency_key=idempotency_key, request_hash=digest,
    )
    on_file = _contact(preference, request.channel)
    if request.channel == NotificationType.IN_APP:  # the user's own feed: there is no other address
        log.recipient, log.notification_metadata = str(user_id), request.in_app or None
        on_file = log.recipient
    else:
        log.recipient = recipient or on_file or _context_contact(context, request.channel)
    suppressed = _suppression(preference, request.channel, log.recipient)
    if suppressed:
        log.status, log.error_message = NotificationStatus.SUPPRESSED, suppressed
        if log.recipient and log.recipient != on_file:  # the caller's address is checked though nothing is sent
            delivery_validate(channel=request.channel, recipient=log.recipient, rendered=request.rendered,
                              targets=push_targets(user_id=user_id, recipient=log.recipient)
                              if request.channel == "push" else [])
    else:
        targets = push_targets(user_id=user_id, recipient=log.recipient) if request.channel == "push" else []
        if not log.recipient and not targets:
            what = {"email": "email address", "sms": "phone number", "push": "active push device"}
            raise ValidationError({"recipient": f"User {user_id} has no {what[request.channel]} on file; name a "
                                                f"recipient, or give `{CONTEXT_CONTACT_KEYS[request.channel]}` "
                                                f"in the context."})
        delivery_validate(channel=request.channel, recipient=log.recipient, targets=targets,
                          rendered=request.rendered, in_app=request.in_app)
        log.scheduled_for = send_schedule(preference=preference, request=request, now=now)
    listened = logs_changed_listened()
    try:
        # One INSERT is atomic on its own: outside a transaction it commits by itself (no BEGIN/COMMIT round
        # trips) and the on-commit hook runs right after it; inside one, a savepoint keeps a clash recoverable.
        # A receiver of `logs_changed` writes in the INSERT's transaction, and so does the idempotency key: then
        # there is one.
        atomic = connection.in_atomic_block or listened or idempotency_key is not None
        with transaction.atomic() if atomic else contextlib.nullcontext():
            if log.status == NotificationStatus.PENDING and log.scheduled_for is None:
                log.queued_at = now
            _insert_log(log)
            if idempotency_key is not None:
                idempotency_key_add(log)
            if listened:
                logs_changed_send(changes=[log_change(log, old_status="")])
            # Hooks run in order: "accepted" is logged at the commit, before an in-process delivery logs "sent".
            transaction.on_commit(lambda: _log_accepted(log))
            if log.queued_at:
                transaction.on_commit(lambda: log_enqueue_soon(log_id=log.pk))
    except IntegrityError:
        # The same idempotency key arrived twice at once; the other request's log stands.
        earlier = idempotency_earlier(NotificationLog, client=client, idempotency_key=idempotency_key,
                                      digest=digest, now=now) if digest else None
        if earlier is None:
            raise
        return Accepted(earlier, False)
    metrics.notification_accepted(channel=log.type, status=log.status)
    deferred = None
    if log.scheduled_for:
        deferred = Deferral.REQUESTED if log.scheduled_for == request.send_at else Deferral.QUIET_HOURS
    return Accepted(log, True, deferred)


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
