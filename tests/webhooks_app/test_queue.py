"""Webhook tasks run on a queue of their own (WEBHOOK_QUEUE), which the urgent lane's workers do not consume:
a slow receiver never holds up a login code."""

import base64
import json
from pathlib import Path

import pytest
import redis
import yaml
from celery import current_app
from django.conf import settings as django_settings

from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.queue import DELIVER_TASK as LOG_DELIVER_TASK
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.workers import wait_for
from webhooks_app.dispatch import DELIVER_TASK, SWEEP_TASK
from webhooks_app.models import WebhookEvent

from .conftest import CLIENT

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


@pytest.fixture
def queues(publishing, broker_url, settings):
    """The Redis broker's queues, emptied before and after; `read(name)` gives (task, args) waiting there."""
    if not broker_url.startswith("redis"):
        pytest.skip("reads the queues as Redis lists")
    client = redis.Redis.from_url(broker_url)
    names = [settings.NOTIFICATION_URGENT_QUEUE, settings.NOTIFICATION_BULK_QUEUE, settings.WEBHOOK_QUEUE, "celery"]
    client.delete(*names)

    class Queues:
        def read(self, name: str) -> list[tuple[str, list]]:
            found = []
            for raw in reversed(client.lrange(name, 0, -1)):  # kombu pushes on the left, pops on the right
                message = json.loads(raw)
                found.append((message["headers"]["task"], json.loads(base64.b64decode(message["body"]))[0]))
            return found

    yield Queues()
    client.delete(*names)


@pytest.mark.django_db(transaction=True)
def test_a_sends_webhook_goes_to_the_webhook_queue_and_its_delivery_to_the_urgent_one(
        queues, endpoint, settings, fake_twilio, sms_via, django_capture_on_commit_callbacks):
    sms_via(fake_twilio)
    template_create(name="code_sms", type="sms", subject="", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345607")
    with django_capture_on_commit_callbacks(execute=True):
        log, *_ = notification_send(user_id=7, template_name="code_sms", context={"code": "1"}, client=CLIENT)
    event = WebhookEvent.objects.get()
    assert wait_for(lambda: queues.read(settings.NOTIFICATION_URGENT_QUEUE) == [(LOG_DELIVER_TASK, [[log.pk]])],
                    timeout=5, interval=0.05)
    assert queues.read(settings.WEBHOOK_QUEUE) == [(DELIVER_TASK, [[event.pk]])]
    assert queues.read(settings.NOTIFICATION_BULK_QUEUE) == [] and queues.read("celery") == []


def test_beats_sweep_of_webhooks_goes_to_the_webhook_queue(queues, settings):
    entry = next(item for item in django_settings.CELERY_BEAT_SCHEDULE.values() if item["task"] == SWEEP_TASK)
    current_app.send_task(entry["task"], **entry.get("options", {}))
    assert queues.read(settings.WEBHOOK_QUEUE) == [(SWEEP_TASK, [])]
    assert queues.read(settings.NOTIFICATION_URGENT_QUEUE) == []


def test_urgent_workers_leave_the_webhook_queue_to_a_worker_of_its_own():
    queues = {}
    for path in K8S.glob("worker-*-deployment.yaml"):
        deployment = yaml.safe_load(path.read_text())
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        queues[deployment["metadata"]["name"]] = set(env["WORKER_QUEUES"].split(","))
    assert django_settings.WEBHOOK_QUEUE not in queues["notification-service-worker-urgent"]
    assert queues["notification-service-worker-webhooks"] == {django_settings.WEBHOOK_QUEUE}
