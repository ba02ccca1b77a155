"""Delivery lanes (logs_app/pipeline/lanes.py): the routing rule, and which queue of the real broker each
kind of send, fan-out, retry and sweep lands in."""

import base64
import json

import pytest
import redis

from logs_app import tasks
from notifications_project.celery import app as celery_app
from logs_app.models import NotificationLog, Priority
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import bulk_send_enqueue, notification_send_bulk
from logs_app.pipeline.lanes import Lane, lane_for
from logs_app.pipeline.queue import BULK_SEND_ENQUEUE_TASK, DELIVER_TASK
from logs_app.pipeline.sweep import logs_sweep_due
from logs_app.pipeline.trigger import notification_trigger
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests import factories
from tests.fakes.twilio import twilio_error
from tests.workers import wait_for


@pytest.mark.parametrize(("send", "expected"), [
    ({"priority": "normal"}, Lane.URGENT),                                   # a single send
    ({"priority": "urgent"}, Lane.URGENT),
    ({"priority": "normal", "recipients": 2}, Lane.BULK),                    # a bulk send, a trigger of many
    ({"priority": "normal", "recipients": 100_000}, Lane.BULK),
    ({"priority": "urgent", "recipients": 100_000}, Lane.URGENT),            # urgent wins over size
    ({"priority": "normal", "critical": True, "recipients": 5000}, Lane.URGENT),  # so does a critical kind
    ({"priority": "normal", "critical": True}, Lane.URGENT),
])
def test_the_routing_rule(send, expected):
    assert lane_for(**send) == expected


# On the broker --------------------------------------------------------------------------------------------


@pytest.fixture
def broker(publishing, broker_url, settings):
    """The Redis broker's queues, emptied before and after; `messages(queue)` reads what waits in one."""
    client = redis.Redis.from_url(broker_url)
    names = [settings.NOTIFICATION_URGENT_QUEUE, settings.NOTIFICATION_BULK_QUEUE, "celery"]
    client.delete(*names)

    class Broker:
        def messages(self, queue: str) -> list[tuple[str, list, str | None]]:
            """(task name, args, lane header) of each message waiting in `queue`, oldest first."""
            found = []
            for raw in reversed(client.lrange(queue, 0, -1)):  # kombu pushes on the left, pops on the right
                message = json.loads(raw)
                args = json.loads(base64.b64decode(message["body"]))[0]
                found.append((message["headers"]["task"], args, message["headers"].get("lane")))
            return found

        def urgent(self):
            return self.messages(settings.NOTIFICATION_URGENT_QUEUE)

        def bulk(self):
            return self.messages(settings.NOTIFICATION_BULK_QUEUE)

        def clear(self) -> None:
            client.delete(*names)

    yield Broker()
    client.delete(*names)


@pytest.fixture
def users(db):
    template_create(name="code_sms", type="sms", body="Code {{ code }}", variables={"code": "1"})
    for user_id in range(1, 8):
        preference_update(user_id=user_id, phone_number=f"+4915112345{user_id:03d}")


def delivered_ids(messages) -> list[int]:
    return [log_id for name, args, _ in messages if name == DELIVER_TASK for log_id in args[0]]


@pytest.mark.django_db(transaction=True)
def test_a_single_send_goes_to_the_urgent_queue_and_a_bulk_send_to_the_bulk_queue(broker, users):
    single = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0]
    assert wait_for(lambda: broker.urgent() == [(DELIVER_TASK, [[single.pk]], "urgent")], timeout=5)
    bulk, _ = notification_send_bulk(user_ids=[1, 2, 3], template_name="code_sms", context={"code": "2"})
    assert broker.bulk() == [(BULK_SEND_ENQUEUE_TASK, [bulk.batch_id], "bulk")]
    assert len(broker.urgent()) == 1


@pytest.mark.django_db(transaction=True)
def test_an_urgent_bulk_send_goes_to_the_urgent_queue(broker, users):
    bulk, _ = notification_send_bulk(user_ids=[1, 2], template_name="code_sms", context={"code": "2"},
                                     priority=Priority.URGENT)
    assert broker.urgent() == [(BULK_SEND_ENQUEUE_TASK, [bulk.batch_id], "urgent")] and broker.bulk() == []


@pytest.mark.django_db(transaction=True)
def test_a_bulk_fan_out_queues_one_turn_then_its_continuation_behind_it(broker, users, settings):
    settings.NOTIFICATION_TASK_BATCH_SIZE, settings.NOTIFICATION_BULK_TURN_BATCHES = 2, 2
    bulk, _ = notification_send_bulk(user_ids=list(range(1, 8)), template_name="code_sms", context={"code": "3"})
    ids = list(NotificationLog.objects.filter(batch_id=bulk.batch_id).order_by("id").values_list("id", flat=True))
    broker.clear()

    bulk_send_enqueue(batch_id=bulk.batch_id, lane=Lane.BULK)
    assert broker.bulk() == [(DELIVER_TASK, [ids[0:2]], "bulk"), (DELIVER_TASK, [ids[2:4]], "bulk"),
                             (BULK_SEND_ENQUEUE_TASK, [bulk.batch_id, ids[3]], "bulk")]
    # Another send's fan-out queued meanwhile comes before this one's next turn.
    other, _ = notification_send_bulk(user_ids=[1, 2], template_name="code_sms", context={"code": "4"})
    bulk_send_enqueue(batch_id=other.batch_id, lane=Lane.BULK)
    bulk_send_enqueue(batch_id=bulk.batch_id, after_id=ids[3], lane=Lane.BULK)
    assert delivered_ids(broker.bulk()) == ids[0:4] + sorted(
        NotificationLog.objects.filter(batch_id=other.batch_id).values_list("id", flat=True)) + ids[4:7]
    assert broker.bulk()[-1][0] == DELIVER_TASK  # the last turn has no continuation


@pytest.mark.django_db(transaction=True)
def test_triggers_take_the_lane_of_their_size_and_kind(broker, users):
    many = factories.NotificationKindFactory(key="weekly", channels=["sms"])
    critical = factories.NotificationKindFactory(key="login_code", critical=True, channels=["sms"])
    for kind, user_ids, lane in ((many, [1, 2, 3], "bulk"), (many, [4], "urgent"), (critical, [1, 2, 3], "urgent")):
        trigger = notification_trigger(kind=kind.key, user_ids=user_ids, context={"code": "5", "first_name": "Ada"})[0].trigger
        queued = broker.bulk() if lane == "bulk" else broker.urgent()
        assert (tasks.TRIGGER_ENQUEUE_TASK, [str(trigger.id)], lane) in queued


@pytest.mark.django_db(transaction=True)
def test_the_sweep_queues_each_log_in_its_lane(broker, users):
    single = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0]
    bulk, _ = notification_send_bulk(user_ids=[2, 3], template_name="code_sms", context={"code": "2"})
    assert wait_for(lambda: len(broker.urgent()) == 1, timeout=5)
    broker.clear()
    NotificationLog.objects.update(queued_at=None)  # as if their messages were lost
    assert logs_sweep_due() == 3
    assert delivered_ids(broker.urgent()) == [single.pk]
    assert sorted(delivered_ids(broker.bulk())) == sorted(
        NotificationLog.objects.filter(batch_id=bulk.batch_id).values_list("id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_a_retry_stays_in_the_lane_its_task_came_in(broker, users, fake_twilio, sms_via):
    sms_via(fake_twilio)
    fake_twilio.enqueue(twilio_error(503, 20500, "down"))
    bulk, _ = notification_send_bulk(user_ids=[2], template_name="code_sms", context={"code": "2"})
    log = NotificationLog.objects.get(batch_id=bulk.batch_id)
    tasks.deliver_logs.apply(args=[[log.pk]], headers={"lane": "bulk"})
    assert delivered_ids(broker.bulk()) == [log.pk] and delivered_ids(broker.urgent()) == []


@pytest.mark.django_db(transaction=True)
def test_with_lanes_off_everything_shares_the_default_queue(broker, users, settings):
    settings.NOTIFICATION_LANES = False
    default = celery_app.conf.task_default_queue  # "celery" when the service starts with lanes off
    single = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0]
    bulk, _ = notification_send_bulk(user_ids=[1, 2], template_name="code_sms", context={"code": "2"})
    assert wait_for(lambda: len(broker.messages(default)) == 2, timeout=5)
    assert sorted((name, args) for name, args, _ in broker.messages(default)) == [
        (DELIVER_TASK, [[single.pk]]), (BULK_SEND_ENQUEUE_TASK, [bulk.batch_id])]
    assert broker.bulk() == []
