"""What the inbox's tests share: a kind with an in-app template, and a way to trigger it."""

import pytest

from kinds_app.models import KindTemplate
from logs_app.pipeline.trigger import notification_trigger
from tests import factories

CONTEXT = {"first_name": "Ada", "code": "1234"}


@pytest.fixture
def in_app_template(db):
    return factories.NotificationTemplateFactory(
        name="order_shipped_in_app", type="in_app", subject="Order {{ code }} shipped",
        body="**Hi {{ first_name }}**, it is on its way. [Track it](https://shop.example/track/{{ code }})")


@pytest.fixture
def in_app_kind(in_app_template):
    kind = factories.NotificationKindFactory(key="order_shipped", channels=[])
    KindTemplate.objects.create(kind=kind, channel="in_app", template=in_app_template)
    return kind


@pytest.fixture
def trigger(django_capture_on_commit_callbacks):
    """notification_trigger, with what it queues after the commit run (in process, as tasks run here)."""

    def run(**arguments):
        arguments.setdefault("context", CONTEXT)
        with django_capture_on_commit_callbacks(execute=True):
            return notification_trigger(**arguments)

    return run
