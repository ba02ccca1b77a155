"""A real Celery worker's log lines carry the request id of the API call that queued the notification."""

import json

import pytest

from logs_app.models import NotificationLog
from tests.ops.conftest import CONTEXT
from tests.workers import Worker, wait_for, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def json_worker(publishing, broker_url, fake_twilio, tmp_path):
    """A worker logging JSON lines at INFO, as in production, delivering SMS to the fake Twilio."""
    providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                          "OPTIONS": fake_twilio.provider_options()}]}
    worker = Worker(env=worker_env(broker_url=broker_url, providers=providers, LOG_LEVEL="INFO", LOG_FORMAT="json"),
                    log_dir=tmp_path, concurrency=1, loglevel="INFO")
    try:
        worker.start()
        yield worker.log
    finally:
        worker.stop()
        print(worker.log.read_text())  # shown only when the test fails


def json_lines(path) -> list[dict]:
    lines = []
    for text in path.read_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_the_worker_logs_the_delivery_under_the_request_id(user, make_client, json_worker, fake_twilio):
    response = make_client().post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                             "context": CONTEXT},
                                  format="json", HTTP_X_REQUEST_ID="trace-worker-1")
    assert response.status_code == 202
    log_id = response.json()["id"]
    assert wait_for(lambda: NotificationLog.objects.filter(pk=log_id, status="sent").exists())

    def delivery_line():
        return next((line for line in json_lines(json_worker)
                     if line["message"] == "notification sent" and line.get("log_id") == log_id), None)

    assert wait_for(lambda: delivery_line() is not None, timeout=10)
    line = delivery_line()
    assert line["request_id"] == "trace-worker-1" and line["provider"] == "twilio"
    task_lines = [entry for entry in json_lines(json_worker) if entry["logger"] == "celery.app.trace"]
    assert task_lines and all(entry["request_id"] == "trace-worker-1" for entry in task_lines)
    assert fake_twilio.requests[0].form["Body"] == "Your code is 4711."
    assert "Your code is" not in json_worker.read_text()  # the message itself never reaches the log


def test_sends_queued_together_keep_their_own_request_ids(user, make_client, json_worker, settings):
    settings.NOTIFICATION_PUBLISH_LINGER_MS = 1000  # sends after the first wait and share a task message
    client = make_client()

    def send(request_id: str) -> int:
        response = client.post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                          "context": CONTEXT},
                               format="json", HTTP_X_REQUEST_ID=request_id)
        assert response.status_code == 202
        return response.json()["id"]

    request_ids = {send(f"trace-{n}"): f"trace-{n}" for n in range(5)}
    assert wait_for(lambda: NotificationLog.objects.filter(pk__in=request_ids, status="sent").count() == 5)

    def sent_lines() -> dict[int, str]:
        return {line["log_id"]: line["request_id"] for line in json_lines(json_worker)
                if line["message"] == "notification sent" and line.get("log_id") in request_ids}

    assert wait_for(lambda: len(sent_lines()) == 5, timeout=10)
    assert sent_lines() == request_ids
    tasks = [json.loads(line["data"]["args"])[0] for line in json_lines(json_worker)
             if line["message"].endswith(" received")]
    assert sorted(id for ids in tasks for id in ids) == sorted(request_ids) and any(len(ids) > 1 for ids in tasks)
