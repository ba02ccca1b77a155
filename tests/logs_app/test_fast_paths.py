"""The PostgreSQL fast paths of the pipeline beside their ORM twins: the same rows written both ways read
back the same, and a field added to the log without its fast-path column fails here, not in production."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from logs_app.models import NotificationLog, NotificationStatus
from logs_app.pipeline.bulk import BULK_COLUMNS, insert_logs
from logs_app.pipeline.trigger import TRIGGER_COLUMNS
from tests.factories import NotificationTemplateFactory

pytestmark = pytest.mark.django_db

postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="COPY is PostgreSQL's")

LOG_FIELDS = [field for field in NotificationLog._meta.concrete_fields if not field.primary_key]


@pytest.mark.parametrize("columns", [BULK_COLUMNS, TRIGGER_COLUMNS], ids=["bulk", "trigger"])
def test_every_log_field_is_written_by_copy_or_left_null_as_the_orm_would(columns):
    """COPY writes only its columns; every other column is NULL, so a field the ORM fills with a default
    (or that may not be NULL) must be among them."""
    missing = [field.name for field in LOG_FIELDS
               if field.column not in columns and not (field.null and field.get_default() is None)]
    assert not missing, f"add these log fields to the COPY columns of the bulk and trigger paths: {missing}"
    assert set(columns) <= {field.column for field in LOG_FIELDS}


def _row(template, user_id: int, batch_id: uuid.UUID, moment: dt.datetime, **changes) -> tuple:
    values = {"user_id": user_id, "template_id": template.pk, "template_name": template.name,
              "template_version": template.version, "type": "sms", "status": NotificationStatus.PENDING,
              "priority": "urgent", "subject": "", "body": "Code 12 \u2603 \"quoted\"\ttab\\back", "html_body": "",
              "provider": "", "provider_message_id": "", "attempts": 0, "recipient": "+14155550100",
              "error_message": None, "client": "k1", "batch_id": batch_id, "scheduled_for": moment,
              "queued_at": None, "created_at": moment, "updated_at": moment, "trigger_id": uuid.uuid4(),
              "notification_metadata": {"action_url": "/orders/1", "data": {"n": [1, "\u2603"]}}, **changes}
    return tuple(values[column] for column in TRIGGER_COLUMNS)


@postgresql_only
def test_copy_and_bulk_create_store_the_same_rows(monkeypatch):
    template = NotificationTemplateFactory(type="sms")
    moment = timezone.now().replace(microsecond=654321) - dt.timedelta(hours=3)
    copied, created = uuid.uuid4(), uuid.uuid4()
    rows = [_row(template, 1, copied, moment),
            _row(template, 2, copied, moment, status=NotificationStatus.SUPPRESSED, error_message="off",
                 scheduled_for=None, queued_at=moment, recipient="", notification_metadata=None)]
    insert_logs(rows, TRIGGER_COLUMNS)
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the other branch: bulk_create, as off PostgreSQL
    insert_logs([(*row[:16], created, *row[17:]) for row in rows], TRIGGER_COLUMNS)
    monkeypatch.undo()

    def stored(batch_id: uuid.UUID) -> list[dict]:
        # The ORM stamps created_at and updated_at itself (auto_now); COPY stores the send's moment.
        left_out = {"id", "batch_id", "created_at", "updated_at"}
        return [{name: value for name, value in row.items() if name not in left_out}
                for row in NotificationLog.objects.filter(batch_id=batch_id).order_by("user_id").values()]

    pairs = list(zip(stored(copied), stored(created), strict=True))
    differing = [{name: (one[name], other[name]) for name in one if one[name] != other[name]} for one, other in pairs]
    assert len(pairs) == 2 and differing == [{}, {}]
    stamps = NotificationLog.objects.filter(batch_id=copied).values_list("created_at", "updated_at")
    assert set(stamps) == {(moment, moment)}
