import pytest
from django.db import IntegrityError, connection, transaction

from django.utils import timezone

from logs_app.models import IdempotencyKey, NotificationLog, NotificationStatus, Priority
from preferences_app.models import UserPreference
from templates_app.models import NotificationTemplate
from tests.factories import NotificationLogFactory, NotificationTemplateFactory

pytestmark = pytest.mark.django_db


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {name for name, info in constraints.items() if info["index"]}


def test_the_seeds_five_indexes_exist_by_name():
    assert {"ix_notification_logs_user_id", "ix_notification_logs_status", "ix_notification_logs_type",
            "ix_notification_logs_created_at"} <= index_names("notification_logs")
    assert "ix_notification_templates_type" in index_names("notification_templates")


@pytest.mark.parametrize("model, values", [
    (NotificationLog, {"user_id": 1, "type": "email", "status": "lost"}),
    (NotificationLog, {"user_id": 1, "type": "pigeon"}),
    (NotificationLog, {"user_id": 1, "type": "sms", "priority": "whenever"}),
    (NotificationTemplate, {"name": "x", "body": "b", "type": "telegram"}),
    (UserPreference, {"user_id": 0}),
    (UserPreference, {"user_id": 3, "quiet_hours_start": "22:00"}),
])
def test_check_constraints_are_enforced_by_the_database(model, values):
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**values)


def test_user_id_is_unique_in_preferences():
    UserPreference.objects.create(user_id=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        UserPreference.objects.create(user_id=3)


def test_idempotency_key_is_unique_per_client_only():
    IdempotencyKey.objects.create(client="billing", key="order-1", log_id=1, created_at=timezone.now())
    IdempotencyKey.objects.create(client="shipping", key="order-1", log_id=2, created_at=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotencyKey.objects.create(client="billing", key="order-1", log_id=3, created_at=timezone.now())


def test_logs_may_share_a_key_text_the_key_table_holds_the_rule():
    # A key given up after its window stays on its first log as a record; the next log may carry it too.
    template = NotificationTemplateFactory()
    NotificationLogFactory(template=template, client="billing", idempotency_key="order-1")
    NotificationLogFactory(template=template, client="billing", idempotency_key="order-1")
    assert NotificationLog.objects.filter(idempotency_key="order-1").count() == 2


def test_metadata_and_variables_are_json():
    log = NotificationLogFactory(notification_metadata={"context": {"items": [1, 2]}, "nested": {"a": None}})
    log.refresh_from_db()
    assert log.notification_metadata == {"context": {"items": [1, 2]}, "nested": {"a": None}}


def test_a_log_inserted_by_the_send_path_reads_back_as_the_orm_would_store_it():
    import datetime as dt
    import uuid

    from django.utils import timezone

    from logs_app.pipeline.accept import _insert_log

    template = NotificationTemplateFactory()
    moment = timezone.now().replace(microsecond=123456) - dt.timedelta(days=1)
    values = {
        "user_id": 7, "template": template, "template_name": template.name, "template_version": 3, "type": "sms",
        "status": NotificationStatus.SUPPRESSED, "priority": Priority.URGENT, "recipient": "+14155550100", "subject": "S ü", "body": "B\u2603",
        "html_body": "<p>x</p>", "provider": "twilio", "provider_message_id": "SM1", "attempts": 2,
        "error_message": "quiet", "notification_metadata": {"a": [1, {"b": None}]}, "client": "k1",
        "idempotency_key": "idem", "scheduled_for": moment, "queued_at": moment, "lease_expires_at": moment,
        "batch_id": uuid.uuid4(), "sent_at": moment, "delivered_at": moment}
    inserted, saved = NotificationLog(**values), NotificationLog(**{**values, "idempotency_key": "idem2"})
    _insert_log(inserted)
    saved.save()

    def stored(log_id: int) -> dict:
        row = NotificationLog.objects.filter(pk=log_id).values().get()
        return {name: value for name, value in row.items() if name not in {"id", "idempotency_key", "created_at",
                                                                           "updated_at"}}

    assert inserted.pk and stored(inserted.pk) == stored(saved.pk)
    assert stored(inserted.pk)["notification_metadata"] == {"a": [1, {"b": None}]}
