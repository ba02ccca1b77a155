import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kit.pagination import paginate
from logs_app.models import NotificationLog
from logs_app.selectors import log_list
from tests.factories import NotificationLogFactory, NotificationTemplateFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def logs():
    template = NotificationTemplateFactory()
    made = [
        NotificationLogFactory(template=template, user_id=1, type="email", status="sent"),
        NotificationLogFactory(template=template, user_id=1, type="sms", status="failed"),
        NotificationLogFactory(template=template, user_id=2, type="email", status="pending"),
    ]
    old = timezone.now() - dt.timedelta(days=10)
    NotificationLog.objects.filter(pk=made[0].pk).update(created_at=old)
    return made


def ids(queryset):
    return [log.id for log in queryset]


def test_filters_by_user_status_type_and_time(logs):
    sent, failed, pending = logs
    assert ids(log_list(user_id=1)) == [failed.id, sent.id]
    assert ids(log_list(status="failed")) == [failed.id]
    assert ids(log_list(type="email")) == [pending.id, sent.id]
    assert ids(log_list(created_after=timezone.now() - dt.timedelta(days=1))) == [pending.id, failed.id]
    assert ids(log_list(created_before=timezone.now() - dt.timedelta(days=1))) == [sent.id]
    assert ids(log_list(user_id=1, type="sms", status="failed")) == [failed.id]


def test_unknown_status_or_type_is_a_validation_error(logs):
    with pytest.raises(ValidationError) as excinfo:
        log_list(status="lost", type="fax")
    assert set(excinfo.value.message_dict) == {"status", "type"}


@pytest.mark.parametrize("page, size, expected_items, expected_pages", [
    (1, 2, 2, 3), (3, 2, 1, 3), (4, 2, 0, 3), (1, 5, 5, 1), (1, 100, 5, 1),
])
def test_pagination_arithmetic(page, size, expected_items, expected_pages):
    template = NotificationTemplateFactory()
    NotificationLogFactory.create_batch(5, template=template)
    result = paginate(log_list(), page=page, size=size)
    assert (len(result.items), result.total, result.page, result.size, result.pages) == (
        expected_items, 5, page, size, expected_pages)


def test_pagination_of_nothing_has_zero_pages():
    result = paginate(log_list(), page=1, size=10)
    assert (result.items, result.total, result.pages) == ([], 0, 0)


@pytest.mark.parametrize("page, size, field", [(0, 10, "page"), (1, 0, "size"), (1, 101, "size"), (-1, 10, "page")])
def test_pagination_bounds(page, size, field):
    with pytest.raises(ValidationError) as excinfo:
        paginate(log_list(), page=page, size=size)
    assert field in excinfo.value.message_dict
