"""Triggering a kind: for each recipient, one log per channel the kind has and the user allows, all
carrying the trigger's id; written a chunk of recipients at a time (COPY), queued by a task.

Each channel's template is rendered once for every recipient (one context). Preferences decide per
recipient and channel (preferences_app.categories: kind, category, channel switch, category default;
a critical kind ignores opt-outs); a channel they rule out gives a `suppressed` log naming the rule, and so
does an address on the suppression list (consent_app), critical kind or not.
Quiet hours defer delivery unless the trigger is urgent, critical or not.
"""

import datetime as dt
import heapq
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import CharField, F
from django.db.models.functions import Cast
from django.utils import timezone

from consent_app.selectors import suppressed_among
from kinds_app.models import NotificationKind, Topic
from kinds_app.selectors import kind_get
from kinds_app.topics import topic_members, topics_by_key
from kit import metrics
from kit.lookups import AnyOf
from preferences_app.categories import channel_decision, choices_for_users
from preferences_app.models import Device, UserPreference, is_user_id
from templates_app.models import NotificationType

from ..models import NotificationLog, NotificationStatus, Priority, Trigger
from .bulk import BULK_COLUMNS, each_once, insert_logs
from .events import LogChange, logs_changed_listened, logs_changed_send
from .lanes import Lane, trigger_lane
from .messages import address_hidden
from .queue import TRIGGER_ENQUEUE_TASK, chunks, fan_out_publish, logs_enqueue_turn
from .request import (SendRequest, idempotency_earlier, idempotency_key_problem, request_digest, send_request_check,
                      send_schedule, text_validate_once)

logger = logging.getLogger(__name__)

TRIGGER_CHUNK = 1000
# Up to this many recipients, a trigger's answer lists each one's outcome per channel; past it, counts only.
OUTCOMES_MAX = 1000
TRIGGER_COLUMNS = (*BULK_COLUMNS, "trigger_id")
ON_FILE = {NotificationType.EMAIL: "email address", NotificationType.SMS: "phone number",
           NotificationType.PUSH: "active push device"}
CHANNEL_SWITCHES = tuple(f"{channel}_enabled" for channel in NotificationType.values)


@dataclass(frozen=True)
class ChannelOutcome:
    channel: str
    status: str
    reason: str | None
    log_id: int
    recipient: str = field(default="", repr=False)  # not part of the answer: what `without_addresses` hides


@dataclass(frozen=True)
class TriggerResult:
    trigger: Trigger
    outcomes: dict[int, list[ChannelOutcome]] | None  # user id -> one per channel; None past OUTCOMES_MAX

    def without_addresses(self) -> "TriggerResult":
        """The result as a key without the `read` scope sees it: no reason names a recipient's address."""
        if self.outcomes is None:
            return self
        return replace(self, outcomes={
            user_id: [replace(outcome, reason=address_hidden(outcome.reason, outcome.recipient))
                      for outcome in channels]
            for user_id, channels in self.outcomes.items()})


def _key_problem(field: str, key: Any) -> None:
    if key is not None and (problem := idempotency_key_problem(key)):
        raise ValidationError({field: problem})


def notification_trigger(*, kind: str, user_ids: list[int] | None = None, topics: list[str] | None = None,
                         context: dict | None = None, client: str = "", idempotency_key: str | None = None,
                         send_at: dt.datetime | None = None, priority: str = Priority.NORMAL,
                         cancellation_key: str | None = None) -> tuple[TriggerResult, bool]:
    """Trigger `kind` for the users and the members of the topics (each user once, however often named):
    each gets one log per channel of the kind, linked by the trigger.

    Returns (result, created). The same idempotency key from this client within 24 hours returns the
    first trigger (created=False) when the request is the same, and raises RepeatWithOtherRequest
    (422) when it is not. Raises ValidationError naming the field: kind, user_ids, context (a missing
    variable, too large), send_at, priority, idempotency_key, cancellation_key, message (too long for
    SMS, too large for push), user_ids or topics (no recipient named, an unknown topic).
    """
    _key_problem("idempotency_key", idempotency_key)
    _key_problem("cancellation_key", cancellation_key)
    now = timezone.now()
    user_ids = [] if user_ids is None else user_ids
    topics = [] if topics is None else topics
    digest = "" if idempotency_key is None else request_digest(
        kind=kind, user_ids=sorted(set(user_ids)) if isinstance(user_ids, list) else user_ids,
        topics=sorted(set(topics)) if isinstance(topics, list) else topics, context=context, send_at=send_at,
        priority=priority, cancellation_key=cancellation_key)
    earlier = idempotency_earlier(Trigger, client=client, idempotency_key=idempotency_key, digest=digest, now=now)
    if earlier:
        return trigger_result(earlier), False
    if not isinstance(user_ids, list):
        raise ValidationError({"user_ids": "Must be a list of user ids."})
    if not isinstance(topics, list):
        raise ValidationError({"topics": "Must be a list of topic keys."})
    if not user_ids and not topics:
        raise ValidationError({"user_ids": "Name at least one recipient, in user_ids or topics."})
    if len(user_ids) > settings.NOTIFICATION_BULK_MAX_USERS:
        raise ValidationError({"user_ids": f"At most {settings.NOTIFICATION_BULK_MAX_USERS} users per call."})
    bad = [u for u in user_ids if not is_user_id(u)]
    if bad:
        raise ValidationError({"user_ids": f"Not valid user ids: {', '.join(map(str, bad[:5]))}."})
    try:
        found = kind_get(key=kind) if isinstance(kind, str) else None
    except NotificationKind.DoesNotExist:
        found = None
    if found is None:
        raise ValidationError({"kind": f"No kind with the key {kind!r}."})
    named_topics = topics_by_key(topics)
    links = list(found.channel_templates.all())
    if not links:
        raise ValidationError({"kind": f"The kind {found.key!r} has no channel templates."})
    requests = []
    for link in links:
        request = send_request_check(template_name=link.template.name, context=context, channel=link.channel,
                                     send_at=send_at, priority=priority, client=client)
        text_validate_once(request)
        requests.append(request)

    trigger = Trigger(kind=found, kind_key=found.key, client=client, idempotency_key=idempotency_key,
                      request_hash=digest, cancellation_key=cancellation_key, priority=priority, send_at=send_at)
    try:
        with transaction.atomic():
            trigger.save()
            _write_logs(trigger, found, requests, _recipients(user_ids, named_topics), now=now)
            trigger.save(update_fields=["recipients", "accepted", "suppressed", "failed"])
            transaction.on_commit(lambda: fan_out_publish(task=TRIGGER_ENQUEUE_TASK, key=str(trigger.id),
                                                          lane=trigger_lane(trigger)))
    except IntegrityError:
        # The same key arrived twice at once: the other request's trigger stands, and this one wrote nothing.
        earlier = idempotency_earlier(Trigger, client=client, idempotency_key=idempotency_key, digest=digest, now=now)
        if earlier is None:
            raise
        return trigger_result(earlier), False
    logger.info("trigger accepted", extra={"trigger_id": str(trigger.id), "kind": found.key,
                                            "users": trigger.recipients, "accepted": trigger.accepted,
                                            "suppressed": trigger.suppressed, "failed": trigger.failed})
    return trigger_result(trigger), True


def _recipients(user_ids: list[int], topics: list[Topic]) -> Iterator[int]:
    """The users named and the topics' members, each once, in ascending order; the members are streamed."""
    previous = None
    for user_id in heapq.merge(each_once(user_ids), topic_members(topics=topics) if topics else ()):
        if user_id != previous:
            yield user_id
        previous = user_id


def _write_logs(trigger: Trigger, kind: NotificationKind, requests: list[SendRequest], recipients: Iterator[int], *,
                now: dt.datetime) -> None:
    """One log per user (each once) and channel, a chunk of users at a time; counts into the trigger."""
    counts = {channel: dict.fromkeys(NotificationStatus.values, 0) for channel in (r.channel for r in requests)}
    fields = ("user_id", *CHANNEL_SWITCHES, "email", "phone", "quiet_hours_start", "quiet_hours_end", "timezone")
    stored = UserPreference.objects.annotate(phone=Cast("phone_number", output_field=CharField()))
    email_at, phone_at = fields.index("email"), fields.index("phone")
    listened = logs_changed_listened()
    has_push = any(request.channel == NotificationType.PUSH for request in requests)
    for chunk in chunks(recipients, TRIGGER_CHUNK):
        rows_found = {row[0]: row for row in stored.filter(AnyOf(F("user_id"), chunk)).values_list(*fields)}
        choices = choices_for_users(user_ids=chunk, kind=kind)
        with_devices = set(Device.objects.filter(AnyOf(F("preference__user_id"), chunk), active=True)
                           .values_list("preference__user_id", flat=True)) if has_push else set()
        # Addresses on the suppression list (bounces, complaints, opt-outs), read once per chunk and channel.
        listed = {channel: suppressed_among(channel=channel, addresses=[row[column] for row in rows_found.values()])
                  for channel, column in ((NotificationType.EMAIL, email_at), (NotificationType.SMS, phone_at))
                if channel in counts}
        rows = []
        for user_id in chunk:
            row = rows_found.get(user_id)
            stored_values = dict(zip(fields, row)) if row else {"user_id": user_id}
            phone = stored_values.pop("phone", None) or ""
            preference = UserPreference(**stored_values)
            for request in requests:
                rows.append(_log_row(trigger, kind, request, preference, phone=phone, now=now,
                                     choices=choices.get(user_id, {}), has_device=user_id in with_devices,
                                     listed=listed.get(request.channel, {}), counts=counts[request.channel]))
            trigger.recipients += 1
        ids = insert_logs(rows, TRIGGER_COLUMNS)
        if listened:
            logs_changed_send(changes=_trigger_changes(rows, ids, trigger_id=trigger.id, client=trigger.client))
    for channel, by_status in counts.items():
        metrics.notifications_accepted(channel=channel, counts=by_status)
        trigger.accepted += by_status[NotificationStatus.PENDING]
        trigger.suppressed += by_status[NotificationStatus.SUPPRESSED]
        trigger.failed += by_status[NotificationStatus.FAILED]


def _log_row(trigger: Trigger, kind: NotificationKind, request: SendRequest, preference: UserPreference, *,
             phone: str, now: dt.datetime, choices: dict, has_device: bool, listed: dict[str, str],
             counts: dict[str, int]) -> tuple:
    channel, template, rendered = request.channel, request.template, request.rendered
    recipient = (preference.email if channel == NotificationType.EMAIL else phone if channel == NotificationType.SMS
                 else str(preference.user_id) if channel == NotificationType.IN_APP else "")
    scheduled_for = queued_at = error = None
    decision = channel_decision(preference=preference, kind=kind, channel=channel, choices=choices)
    if not decision.allowed:
        status, error = NotificationStatus.SUPPRESSED, f"Suppressed: {decision.rule}"
    elif recipient in listed:
        status, error = NotificationStatus.SUPPRESSED, listed[recipient]
    elif not recipient and not has_device:
        status, error = NotificationStatus.FAILED, f"User {preference.user_id} has no {ON_FILE[channel]} on file."
    else:
        status = NotificationStatus.PENDING
        scheduled_for = send_schedule(preference=preference, request=request, now=now)
        queued_at = now if scheduled_for is None else None
    counts[status] += 1
    html_body = rendered.html_body if channel == NotificationType.EMAIL else ""
    return (preference.user_id, template.pk, template.name, template.version, channel, status, request.priority,
            rendered.subject, rendered.body, html_body, "", "", 0, recipient, error, trigger.client, None,
            scheduled_for, queued_at, now, now, _in_app_metadata(kind, request), trigger.id)


def _in_app_metadata(kind: NotificationKind, request: SendRequest) -> dict[str, Any] | None:
    """What an in-app log carries to the feed besides its text: action URL, data, the kind and its category."""
    if request.channel != NotificationType.IN_APP:
        return None
    return {**(request.in_app or {}), "kind": kind.key, "category": kind.category.key}


_INDEX = {column: index for index, column in enumerate(TRIGGER_COLUMNS)}


def _trigger_changes(rows: list[tuple], ids: list[int], *, trigger_id: uuid.UUID, client: str) -> list[LogChange]:
    """The changes a chunk of trigger rows made (`ids` are theirs, in order). Only built when a receiver listens."""
    user, kind, status, error, name, at, created = (_INDEX[c] for c in (
        "user_id", "type", "status", "error_message", "template_name", "updated_at", "created_at"))
    return [LogChange(log_id=log_id, user_id=row[user], channel=row[kind], template_name=row[name], old_status="",
                      new_status=row[status], provider="", error_message=row[error], at=row[at],
                      idempotency_key=None, batch_id=None, created_at=row[created], client=client,
                      trigger_id=trigger_id) for log_id, row in zip(ids, rows)]


def trigger_result(trigger: Trigger) -> TriggerResult:
    """The trigger with each recipient's outcome per channel, read from its logs (up to OUTCOMES_MAX recipients)."""
    if trigger.recipients > OUTCOMES_MAX:
        return TriggerResult(trigger=trigger, outcomes=None)
    outcomes: dict[int, list[ChannelOutcome]] = {}
    for log_id, user_id, channel, status, error, recipient in (
            NotificationLog.objects.filter(trigger_id=trigger.id).order_by("user_id", "type")
            .values_list("id", "user_id", "type", "status", "error_message", "recipient")):
        outcomes.setdefault(user_id, []).append(ChannelOutcome(channel=channel, status=status, log_id=log_id,
                                                               reason=error if status != "pending" else None,
                                                               recipient=recipient))
    return TriggerResult(trigger=trigger, outcomes=outcomes)


def trigger_enqueue(*, trigger_id: uuid.UUID | str, after_id: int = 0, lane: Lane | None = None) -> None:
    """Queue a trigger's pending, unscheduled logs with ids past `after_id` for delivery in `lane` (the
    fan-out task's own), in task-sized batches, one turn at a time (queue.logs_enqueue_turn)."""
    pending = NotificationLog.objects.filter(trigger_id=trigger_id, status=NotificationStatus.PENDING,
                                             scheduled_for__isnull=True)
    logs_enqueue_turn(pending=pending, lane=lane or Lane.BULK, continuation=TRIGGER_ENQUEUE_TASK,
                      key=str(trigger_id), after_id=after_id)
