import pytest
from django.db import IntegrityError, connection, transaction

from logs_app.models import NotificationLog
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
    template = NotificationTemplateFactory()
    NotificationLogFactory(template=template, client="billing", idempotency_key="order-1")
    NotificationLogFactory(template=template, client="shipping", idempotency_key="order-1")
    NotificationLogFactory(template=template, client="billing", idempotency_key=None)
    NotificationLogFactory(template=template, client="billing", idempotency_key=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        NotificationLogFactory(template=template, client="billing", idempotency_key="order-1")


def test_metadata_and_variables_are_json():
    log = NotificationLogFactory(notification_metadata={"context": {"items": [1, 2]}, "nested": {"a": None}})
    log.refresh_from_db()
    assert log.notification_metadata == {"context": {"items": [1, 2]}, "nested": {"a": None}}
