"""Pacing with real worker processes: a provider paced at 50 messages a second receives no more than 50
in any second from four of them, and a burst of 429s slows the pace without failing a log. Counted at
the loopback fake, by the second of arrival."""

import collections
import math
import threading
import time

import pytest

from logs_app.models import NotificationLog
from logs_app.pipeline.bulk import notification_send_bulk
from preferences_app.models import UserPreference
from templates_app.services import template_create
from tests.fakes.base import Answer
from tests.fakes.twilio import FakeTwilio, twilio_error
from tests.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


class ClockedTwilio(FakeTwilio):
    """A Twilio fake that notes the wall-clock time and the status of every answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: list[tuple[float, int]] = []
        self._clock_lock = threading.Lock()

    def answer_for(self, request):
        arrived = time.time()
        answer = super().answer_for(request)
        with self._clock_lock:
            self.answered.append((arrived, answer.status))
        return answer

    def per_second(self, *, since: float = 0, status: int = 201) -> collections.Counter:
        with self._clock_lock:
            return collections.Counter(math.floor(at) for at, code in self.answered if code == status and at >= since)


@pytest.fixture
def twilio():
    with ClockedTwilio().start() as fake:
        yield fake


@pytest.fixture
def paced_worker(publishing, broker_url, twilio, tmp_path):
    """Starts one worker of four processes with Twilio paced at `rate`."""
    started = []

    def start(rate: float) -> Worker:
        providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                              "OPTIONS": twilio.provider_options(), "RATE": rate}]}
        env = worker_env(broker_url=broker_url, providers=providers, NOTIFICATION_TASK_BATCH_SIZE="20",
                         NOTIFICATION_RETRY_BASE_SECONDS="1", NOTIFICATION_PACE_SLOW_SECONDS="600")
        started.append(Worker(env=env, log_dir=tmp_path, concurrency=4))
        started[-1].start()
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
        print(worker.log.read_text())  # pytest shows it only when the test fails


def send_to(users: int) -> str:
    template_create(name="news_sms", type="sms", body="News", variables={})
    UserPreference.objects.bulk_create(UserPreference(user_id=user_id, phone_number=f"+49151{user_id:08d}")
                                       for user_id in range(1, users + 1))
    return notification_send_bulk(user_ids=list(range(1, users + 1)), template_name="news_sms")[0].batch_id


def test_four_worker_processes_send_no_more_than_the_pace_in_any_second(paced_worker, twilio):
    paced_worker(rate=50)
    batch_id = send_to(300)
    assert wait_for(lambda: NotificationLog.objects.filter(batch_id=batch_id, status="sent").count() == 300,
                    timeout=120)
    counts = twilio.per_second()
    assert sum(counts.values()) == 300
    assert max(counts.values()) <= 50, sorted(counts.items())


def test_a_burst_of_429s_slows_the_pace_and_fails_no_log(paced_worker, twilio):
    too_many = twilio_error(429, 20429, "Too Many Requests")
    twilio.enqueue(*[Answer(status=429, json=too_many.json, headers={"Retry-After": "1"})] * 8)
    worker = paced_worker(rate=20)
    batch_id = send_to(100)
    assert wait_for(lambda: NotificationLog.objects.filter(batch_id=batch_id, status="sent").count() == 100,
                    timeout=180), list(NotificationLog.objects.filter(batch_id=batch_id).exclude(status="sent")
                                        .values_list("status", "attempts", "error_message")[:5])
    assert not NotificationLog.objects.filter(batch_id=batch_id, status="failed").exists()
    first_429 = min(at for at, status in twilio.answered if status == 429)
    after = twilio.per_second(since=math.floor(first_429) + 1)
    assert sum(after.values()) > 0 and max(after.values()) <= 10, (
        sorted(after.items()), [line for line in worker.log.read_text().splitlines() if "pac" in line][:5])
