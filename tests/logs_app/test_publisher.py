"""Single sends reach the queue from a background thread: at once when idle, together when busy, never dropped."""

import base64
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import redis

from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.publisher import Publisher
from preferences_app.services import preference_update
from templates_app.services import template_create
from tests.workers import ROOT, wait_for


class Recorder:
    """A publish function that remembers each batch (optionally failing the first call)."""

    def __init__(self, fail_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, ids: list[int]) -> None:
        with self.lock:
            if self.fail_first:
                self.fail_first = False
                raise ConnectionError("broker went away")
            self.batches.append(list(ids))


def test_an_idle_publisher_publishes_the_first_id_without_lingering():
    recorder = Recorder()
    publisher = Publisher(recorder, linger_seconds=lambda: 60)
    publisher.add(1)
    assert wait_for(lambda: recorder.batches == [[1]], timeout=5, interval=0.01)


def test_ids_arriving_while_it_lingers_go_out_together_in_order():
    recorder = Recorder()
    publisher = Publisher(recorder, linger_seconds=lambda: 1.0)
    publisher.add(1)
    assert wait_for(lambda: recorder.batches == [[1]], timeout=5, interval=0.01)
    for log_id in (2, 3, 4):
        publisher.add(log_id)
    assert wait_for(lambda: len(recorder.batches) == 2, timeout=5, interval=0.01)
    assert recorder.batches == [[1], [2, 3, 4]]


def test_a_failed_publish_does_not_stop_the_thread(caplog):
    recorder = Recorder(fail_first=True)
    publisher = Publisher(recorder, linger_seconds=lambda: 0)
    publisher.add(1)
    assert wait_for(lambda: "publishing queued notifications failed" in caplog.text, timeout=5, interval=0.01)
    publisher.add(2)
    assert wait_for(lambda: recorder.batches == [[2]], timeout=5, interval=0.01)


def test_ids_held_at_exit_are_published_before_the_process_ends():
    script = (
        "from logs_app.pipeline.publisher import Publisher\n"
        "import time\n"
        "publisher = Publisher(lambda ids: print(ids, flush=True), linger_seconds=lambda: 60)\n"
        "publisher.add(1)\n"
        "time.sleep(0.5)\n"  # the thread publishes [1] and lingers for a minute
        "publisher.add(2); publisher.add(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["[1]", "[2, 3]"]


def test_a_forked_child_starts_empty_and_publishes_its_own():
    read, write = os.pipe()
    publisher = Publisher(lambda ids: os.write(write, json.dumps(ids).encode() + b"\n"), linger_seconds=lambda: 60)
    publisher.add(1)
    time.sleep(0.2)
    publisher.add(2)  # held by the lingering parent
    pid = os.fork()
    if pid == 0:  # the child
        try:
            publisher.add(3)
            time.sleep(0.5)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    publisher.flush()
    os.close(write)
    with os.fdopen(read) as lines:
        assert sorted(lines.read().split()) == ["[1]", "[2]", "[3]"]


@pytest.mark.django_db(transaction=True)
def test_sends_accepted_together_share_one_task_message(publishing, broker_url, settings, fake_twilio, sms_via):
    sms_via(fake_twilio)
    settings.NOTIFICATION_PUBLISH_LINGER_MS = 1000
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    for user_id in range(1, 5):
        preference_update(user_id=user_id, phone_number=f"+4915112345{user_id:03d}")
    queue, name = redis.Redis.from_url(broker_url), settings.NOTIFICATION_URGENT_QUEUE  # single sends are urgent
    queue.delete(name)

    def queued() -> list[list[int]]:
        """The log ids each task message on the queue carries (Celery's protocol 2: args, kwargs, embed)."""
        return [json.loads(base64.b64decode(json.loads(message)["body"]))[0][0]
                for message in queue.lrange(name, 0, -1)]

    first = notification_send(user_id=1, template_name="code_sms", context={"code": "1"})[0].pk
    assert wait_for(lambda: len(queued()) == 1, timeout=5, interval=0.01)
    rest = [notification_send(user_id=user_id, template_name="code_sms", context={"code": "1"})[0].pk
            for user_id in (2, 3, 4)]
    assert wait_for(lambda: len(queued()) == 2, timeout=5, interval=0.01)
    assert sorted(queued(), key=len) == [[first], rest]
    queue.delete(name)
