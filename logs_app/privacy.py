"""Data protection: retention (purging old logs) and a user's data export and erasure (GDPR requests)."""

import datetime as dt
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from consent_app.records import consent_history_erase, consent_history_export
from inbox_app.services import feed_erase
from kit.replica import lagging_stream
from kinds_app.models import TopicSubscription
from preferences_app.categories import settings_get
from preferences_app.models import Device, UserPreference
from preferences_app.services import validate_user_id

from .models import FINAL_STATUSES, IdempotencyKey, NotificationLog, NotificationStatus, ProviderCall
from .pipeline.events import LogChange, logs_changed_send
from .rollup import Key, counts_compact, counts_subtract, real_counts_of

logger = logging.getLogger(__name__)

# An erased user's logs keep their channel, provider, status and times (the aggregate counts) but
# are no longer linked to anyone: user id 0 is never a real user (user ids start at 1).
ERASED_USER_ID = 0
CANCELLED_ON_ERASURE = "Cancelled: the user's data was erased."
def _iso(value: dt.datetime | dt.time | None) -> str | None:
    return value.isoformat() if value is not None else None


# Retention ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeResult:
    cutoff: dt.datetime
    by_status: dict[str, int]
    dry_run: bool

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def logs_purge(*, older_than_days: int, batch_size: int = 1000, pause_seconds: float = 0.0, dry_run: bool = False,
               now: dt.datetime | None = None) -> PurgeResult:
    """Delete logs created more than `older_than_days` ago that reached a final status.

    Pending logs are never purged (they are notifications still owed). The purge walks the table by
    ranges of ids, oldest first, each range read once through the primary key and deleted in its own
    short transaction (at most `batch_size` rows, so the WAL of one batch is bounded), so the service keeps
    working while it runs and no batch reads again what an earlier one deleted or kept; `pause_seconds`
    between batches spares a busy database. Raises ValidationError for a bad argument.
    """
    if isinstance(older_than_days, bool) or not isinstance(older_than_days, int) or older_than_days < 1:
        raise ValidationError({"older_than_days": "Must be a whole number of days, at least 1."})
    if not 1 <= batch_size <= 100_000:
        raise ValidationError({"batch_size": "Must be from 1 to 100000."})
    cutoff = (now or timezone.now()) - dt.timedelta(days=older_than_days)
    old = NotificationLog.objects.filter(created_at__lt=cutoff, status__in=FINAL_STATUSES)
    if dry_run:
        counts = {row["status"]: row["n"] for row in old.values("status").annotate(n=Count("id")).order_by()}
        return PurgeResult(cutoff=cutoff, by_status=counts, dry_run=True)
    deleted: Counter[str] = Counter()
    end = _purge_end(cutoff)
    start = _first_id_from(0, end)
    while start is not None:
        with transaction.atomic():
            stop = min(start + batch_size, end)
            in_range = old.filter(pk__gte=start, pk__lt=stop)
            counts = logs_delete(in_range, ProviderCall.objects.filter(log_id__gte=start, log_id__lt=stop,
                                                                       log__in=in_range.values("id")))
        for (_, _, _, status), n in counts.items():
            deleted[status] += n
        start = _first_id_from(start + batch_size, end)
        if pause_seconds and start is not None:
            time.sleep(pause_seconds)
    counts_compact()
    result = PurgeResult(cutoff=cutoff, by_status=dict(deleted), dry_run=False)
    logger.info("logs purged", extra={"older_than_days": older_than_days, "deleted": result.total,
                                      "by_status": result.by_status})
    return result


def logs_delete(logs: QuerySet[NotificationLog], calls: QuerySet[ProviderCall]) -> dict[Key, int]:
    """Delete finished `logs` with their provider `calls` and take them off the rollup, in the caller's
    transaction: the calls first (through their (log, id) index), then the logs in one DELETE (Django's cascade
    would read every log back to find its calls). Returns what was taken off, by the rollup's key (hour, channel,
    provider, status). The purge and the partitions' retirement (held logs) delete logs through it."""
    counts = real_counts_of(logs)
    if counts:
        calls.delete()
        logs._raw_delete(logs.db)
        counts_subtract(counts)
    return counts


def _purge_end(cutoff: dt.datetime) -> int:
    """An id past every log created before `cutoff`: the id of the first log created at or after it
    (ids and creation times rise together, both set at the INSERT), found through the created_at index.
    A log committed a moment out of order across the cutoff waits for the next purge."""
    first_kept = NotificationLog.objects.filter(created_at__gte=cutoff).order_by("created_at", "id").values_list(
        "id", flat=True).first()
    if first_kept is not None:
        return first_kept
    last = NotificationLog.objects.order_by("-id").values_list("id", flat=True).first()
    return (last or 0) + 1


def _first_id_from(start: int, end: int) -> int | None:
    """The first id at or after `start` and before `end` (one step through the primary key, over gaps that
    purges and erasures left), or None when there is none."""
    return NotificationLog.objects.filter(pk__gte=start, pk__lt=end).order_by("id").values_list(
        "id", flat=True).first()


# Export ---------------------------------------------------------------------------------------


def _call_record(call: ProviderCall) -> dict[str, Any]:
    return {"attempt": call.attempt, "provider": call.provider, "started_at": _iso(call.started_at),
            "duration_ms": call.duration_ms, "outcome": call.outcome, "error": call.error,
            "provider_message_id": call.provider_message_id}


def _log_record(log: NotificationLog, calls: list[ProviderCall]) -> dict[str, Any]:
    return {
        "id": log.pk, "channel": log.type, "status": log.status, "priority": log.priority,
        "template_name": log.template_name, "template_version": log.template_version,
        "recipient": log.recipient, "subject": log.subject, "body": log.body, "html_body": log.html_body,
        "provider": log.provider, "provider_message_id": log.provider_message_id, "attempts": log.attempts,
        "error_message": log.error_message, "metadata": log.notification_metadata,
        "scheduled_for": _iso(log.scheduled_for), "sent_at": _iso(log.sent_at),
        "delivered_at": _iso(log.delivered_at), "created_at": _iso(log.created_at), "updated_at": _iso(log.updated_at),
        "provider_calls": [_call_record(call) for call in calls],
    }


EXPORT_CHUNK = 1000  # logs read per query while exporting: the export's memory does not grow with the user


def _user_profile(user_id: int) -> dict[str, Any]:
    """The export's head: the user's preferences with contact points (and choices per category and kind),
    push devices, and the topics they are on."""
    preference = UserPreference.objects.filter(user_id=user_id).first()
    preferences = None
    if preference is not None:
        preferences = {
            "email_enabled": preference.email_enabled, "sms_enabled": preference.sms_enabled,
            "push_enabled": preference.push_enabled, "in_app_enabled": preference.in_app_enabled,
            "quiet_hours_start": _iso(preference.quiet_hours_start),
            "quiet_hours_end": _iso(preference.quiet_hours_end), "timezone": preference.timezone,
            "email": preference.email, "phone_number": preference.phone_e164,
            "created_at": _iso(preference.created_at), "updated_at": _iso(preference.updated_at),
            "notification_settings": settings_get(user_id=user_id),
        }
    devices = [{"platform": d.platform, "token": d.token, "active": d.active, "created_at": _iso(d.created_at)}
               for d in Device.objects.filter(preference__user_id=user_id).order_by("created_at", "id")]
    topics = list(TopicSubscription.objects.filter(user_id=user_id).order_by("topic__key")
                  .values_list("topic__key", flat=True))
    return {"user_id": user_id, "exported_at": _iso(timezone.now()), "preferences": preferences, "devices": devices,
            "topics": topics}


def user_logs_export(*, user_id: int, chunk_size: int | None = None) -> Iterator[dict[str, Any]]:
    """A user's logs, oldest first, as JSON-ready records, read `chunk_size` at a time: each query continues
    from the last row of the one before through the (user_id, created_at, id) index (no OFFSET, and no
    server-side cursor, so it also runs behind PgBouncer in transaction mode); EXPORT_CHUNK by default.
    Each record carries its log's provider calls, read in one query per chunk."""
    chunk_size = chunk_size or EXPORT_CHUNK
    logs = NotificationLog.objects.filter(user_id=user_id).order_by("created_at", "id")
    after = Q()
    while True:
        chunk = list(logs.filter(after)[:chunk_size])
        calls: dict[int, list[ProviderCall]] = {}
        for call in ProviderCall.objects.filter(log_id__in=[log.pk for log in chunk]).order_by("log_id", "id"):
            calls.setdefault(call.log_id, []).append(call)
        yield from (_log_record(log, calls.get(log.pk, [])) for log in chunk)
        if len(chunk) < chunk_size:
            return
        last = chunk[-1]
        after = Q(created_at__gte=last.created_at) & (
            Q(created_at__gt=last.created_at) | Q(created_at=last.created_at, id__gt=last.pk))


def user_data_export(*, user_id: int) -> Iterator[str]:
    """Everything stored about a user, as the text of one JSON document written piece by piece:
    `{"user_id", "exported_at", "preferences", "devices", "topics", "notifications": [...], "consent_records": [...]}`,
    every notification log and every change of consent oldest first. Memory stays flat however many logs the user has: a streamed HTTP response or a file
    takes each piece as it comes. The user id is checked at once: raises ValidationError for a bad one
    (before any piece is produced)."""
    user_id = validate_user_id(user_id)
    return lagging_stream(_export_pieces(user_id))  # from the replica when there is one (kit/replica.py)


def _export_pieces(user_id: int) -> Iterator[str]:
    head = json.dumps(_user_profile(user_id), ensure_ascii=False)
    yield head[:-1] + ', "notifications": ['
    count = 0
    for record in user_logs_export(user_id=user_id):
        yield ("," if count else "") + json.dumps(record, ensure_ascii=False)
        count += 1
    yield '], "consent_records": ['
    for index, record in enumerate(consent_history_export(user_id=user_id)):
        yield ("," if index else "") + json.dumps(record, ensure_ascii=False)
    yield "]}"
    logger.info("user data exported", extra={"user_id": user_id, "logs": count})


# Erasure --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasureResult:
    user_id: int
    preferences_deleted: int
    devices_deleted: int
    logs_anonymised: int
    logs_cancelled: int
    erased_at: dt.datetime = field(default_factory=timezone.now)


ERASE_BATCH = 500  # logs anonymised per transaction: short whatever the user's total (1,000 took up to 1.17 s at 10M logs)


def user_data_erase(*, user_id: int, batch_size: int = ERASE_BATCH) -> ErasureResult:
    """Erase a user's personal data, in short transactions that a second run resumes after a crash.

    First deletes the preferences with the contact points (email, phone), every push device and the user's
    place on topics' lists, and anonymises the user's consent records (user id 0, no detail), and deletes the user's in-app feed. Then the user's logs, oldest first, `batch_size` per transaction: they stay as anonymous records (channel,
    provider, status, template, times), so counts and the dashboard keep adding up: their user id becomes 0
    and recipient, subject, bodies, metadata, error text and idempotency key are cleared, and the record of their
    provider calls deleted. Pending logs are
    cancelled (status `suppressed`), since there is no one left to deliver them to. A log once anonymised no
    longer belongs to the user, so a run that stopped half way is finished by running it again.
    Raises ValidationError.
    """
    user_id = validate_user_id(user_id)
    if not 1 <= batch_size <= 100_000:
        raise ValidationError({"batch_size": "Must be from 1 to 100000."})
    with transaction.atomic():
        _, deleted = UserPreference.objects.filter(user_id=user_id).delete()  # devices go with it (cascade)
        TopicSubscription.objects.filter(user_id=user_id).delete()  # off every topic's list
        consent_records = consent_history_erase(user_id=user_id)
        feed_erase(user_id=user_id)  # the in-app messages and their counters
    preferences, devices = deleted.get(UserPreference._meta.label, 0), deleted.get(Device._meta.label, 0)
    logs = NotificationLog.objects.filter(user_id=user_id).order_by("created_at", "id")
    after, anonymised, cancelled = Q(), 0, 0
    while True:
        with transaction.atomic():
            # Locked, so that the cancellations told to `logs_changed` are exactly the rows cancelled below.
            rows = list(logs.filter(after).select_for_update().values_list(
                "id", "created_at", "status", "type", "template_name", "provider", "batch_id", "client",
                "trigger_id")[:batch_size])
            if not rows:
                break
            batch_anonymised, batch_cancelled = _erase_logs(rows)
        anonymised, cancelled = anonymised + batch_anonymised, cancelled + batch_cancelled
        last_id, last_created_at = rows[-1][0], rows[-1][1]
        # The next batch starts where this one ended, through the index: not over the entries just moved.
        after = Q(created_at__gte=last_created_at) & (
            Q(created_at__gt=last_created_at) | Q(created_at=last_created_at, id__gt=last_id))
        if len(rows) < batch_size:
            break
    result = ErasureResult(user_id=user_id, preferences_deleted=preferences, devices_deleted=devices,
                           logs_anonymised=anonymised, logs_cancelled=cancelled)
    # The record of the request itself: which user, how much; nothing of what was erased.
    logger.info("user data erased", extra={"user_id": user_id, "devices": devices, "logs_anonymised": anonymised,
                                           "logs_cancelled": cancelled, "consent_records_anonymised": consent_records})
    return result


def _erase_logs(rows: list[tuple]) -> tuple[int, int]:
    """Anonymise the locked logs of one batch (rows of id, created_at, status, type, template_name, provider,
    batch_id, client, trigger_id) and cancel the pending ones among them. Returns (anonymised, cancelled)."""
    now = timezone.now()
    ProviderCall.objects.filter(log_id__in=[row[0] for row in rows]).delete()  # their errors may name the address
    IdempotencyKey.objects.filter(log_id__in=[row[0] for row in rows]).delete()  # as the log's own key is cleared
    anonymised = NotificationLog.objects.filter(pk__in=[row[0] for row in rows]).update(
        user_id=ERASED_USER_ID, recipient="", subject="", body="", html_body="", notification_metadata=None,
        error_message=None, idempotency_key=None, request_hash=None, updated_at=now)
    pending = [row for row in rows if row[2] == NotificationStatus.PENDING]
    # A worker that claimed one of these finds it no longer pending and records nothing.
    cancelled = NotificationLog.objects.filter(pk__in=[row[0] for row in pending],
                                               status=NotificationStatus.PENDING).update(
        status=NotificationStatus.SUPPRESSED, error_message=CANCELLED_ON_ERASURE, lease_expires_at=None)
    logs_changed_send(changes=[
        LogChange(log_id=log_id, user_id=ERASED_USER_ID, channel=channel, template_name=template_name,
                  old_status=NotificationStatus.PENDING, new_status=NotificationStatus.SUPPRESSED,
                  provider=provider, error_message=CANCELLED_ON_ERASURE, at=now, idempotency_key=None,
                  batch_id=batch_id, created_at=created_at, client=client, trigger_id=trigger_id)
        for log_id, created_at, _, channel, template_name, provider, batch_id, client, trigger_id in pending])
    return anonymised, cancelled
