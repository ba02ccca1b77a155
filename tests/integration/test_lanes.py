"""Lanes with a real worker on the real broker: a single send accepted during a large bulk drain is
delivered before the drain ends, and a small bulk started with a large one does not wait for it."""

import pytest
from rest_framework.test import APIClient

from logs_app.models import NotificationLog
from logs_app.pipeline.accept import notification_send
from logs_app.pipeline.bulk import notification_send_bulk
from preferences_app.models import UserPreference
from templates_app.services import template_create
from tests import factories
from tests.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BULK_USERS = 3000


@pytest.fixture
def start_worker(publishing, broker_url, fake_twilio, tmp_path):
    """Starts one worker of the urgent lane (both queues, the default), two processes, prefetch one."""
    providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                          "OPTIONS": fake_twilio.provider_options()}]}
    started = []

    def start(**settings: str) -> Worker:
        started.append(Worker(env=worker_env(broker_url=broker_url, providers=providers, **settings),
                              log_dir=tmp_path))
        started[-1].start()
        return started[-1]

    yield start
    for process in started:
        process.stop()
        print(process.log.read_text())  # pytest shows it only when the test fails


@pytest.fixture
def users(db):
    template_create(name="news_sms", type="sms", body="News {{ n }}", variables={"n": "1"})
    template_create(name="code_sms", type="sms", body="Code {{ code }}", variables={"code": "1"})
    UserPreference.objects.bulk_create(UserPreference(user_id=user_id, phone_number=f"+49151{user_id:08d}")
                                       for user_id in range(1, BULK_USERS + 1))


def test_a_login_code_sent_during_a_bulk_drain_does_not_wait_for_it(start_worker, users, fake_twilio):
    start_worker()
    bulk, _ = notification_send_bulk(user_ids=list(range(1, BULK_USERS + 1)), template_name="news_sms",
                                      context={"n": "1"})
    assert wait_for(lambda: len(fake_twilio.requests) > 0, timeout=60)  # the drain has begun

    code, *_ = notification_send(user_id=1, template_name="code_sms", context={"code": "4242"})

    assert wait_for(lambda: NotificationLog.objects.filter(pk=code.pk, status="sent").exists(), timeout=120)
    assert wait_for(lambda: len(fake_twilio.requests) == BULK_USERS + 1, timeout=300)
    bodies = [request.form["Body"] for request in fake_twilio.requests]
    news_after_code = bodies[bodies.index("Code 4242") + 1:]
    assert len(news_after_code) > BULK_USERS / 2, f"the code went out after {BULK_USERS - len(news_after_code)} news"
    assert NotificationLog.objects.filter(batch_id=bulk.batch_id, status="sent").count() == BULK_USERS


def test_a_small_bulk_started_after_a_large_one_is_not_held_back_for_the_whole_drain(start_worker, users, fake_twilio):
    start_worker(NOTIFICATION_TASK_BATCH_SIZE="100", NOTIFICATION_BULK_TURN_BATCHES="2")
    large, _ = notification_send_bulk(user_ids=list(range(1, BULK_USERS + 1)), template_name="news_sms",
                                      context={"n": "large"}, client="big-retailer")
    assert wait_for(lambda: len(fake_twilio.requests) > 0, timeout=60)  # its fan-out has run
    small, _ = notification_send_bulk(user_ids=list(range(1, 101)), template_name="news_sms",
                                      context={"n": "small"}, client="local-shop")

    assert wait_for(lambda: len(fake_twilio.requests) == BULK_USERS + 100, timeout=300)
    bodies = [request.form["Body"] for request in fake_twilio.requests]
    last_small = len(bodies) - bodies[::-1].index("News small")
    assert bodies[:last_small].count("News large") <= 3 * 200, "the small bulk waited for more than three turns"


def test_two_clients_bulks_started_together_the_small_one_is_done_before_half_the_large_one(
        start_worker, users, fake_twilio):
    """Issue #19's two clients through the REST API, each with its own key: a 3,000-user bulk and a 100-user
    bulk posted one right after the other (the large one first). Turns are of 200 logs here, as the default
    2,000 are to a 100,000-user campaign."""
    start_worker(NOTIFICATION_TASK_BATCH_SIZE="100", NOTIFICATION_BULK_TURN_BATCHES="2")
    clients = {}
    for name in ("big-retailer", "local-shop"):
        _, secret = factories.api_key(name=name, scopes=["send"])
        clients[name] = APIClient()
        clients[name].credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")

    large = clients["big-retailer"].post("/api/v1/notifications/bulk/", {
        "user_ids": list(range(1, BULK_USERS + 1)), "template_name": "news_sms", "context": {"n": "large"}},
        format="json")
    small = clients["local-shop"].post("/api/v1/notifications/bulk/", {
        "user_ids": list(range(1, 101)), "template_name": "news_sms", "context": {"n": "small"}}, format="json")
    assert (large.status_code, small.status_code) == (202, 202)

    assert wait_for(lambda: len(fake_twilio.requests) == BULK_USERS + 100, timeout=300)
    bodies = [request.form["Body"] for request in fake_twilio.requests]
    last_small = len(bodies) - bodies[::-1].index("News small")
    large_before = bodies[:last_small].count("News large")
    assert large_before < BULK_USERS / 2, f"the small bulk finished after {large_before} of the large one's messages"
    logs = NotificationLog.objects.filter(batch_id__in=[large.json()["batch_id"], small.json()["batch_id"]])
    assert wait_for(lambda: logs.filter(status="sent").count() == BULK_USERS + 100, timeout=60)
    assert logs.values("client").distinct().count() == 2  # two clients, as their keys name them
