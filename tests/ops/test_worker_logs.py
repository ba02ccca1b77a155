"""A real Celery worker's log lines carry the request id of the API call that queued the notification."""

import json
import os
import subprocess
import sys

import pytest

from logs_app.models import NotificationLog
from notifications_project.celery import app as celery_app
from tests.integration.test_celery_worker import ROOT, _empty_broker, broker_url, database_url, publishing, wait_for
from tests.ops.conftest import CONTEXT

__all__ = ["_empty_broker", "broker_url", "publishing"]  # fixtures this module borrows

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def json_worker(broker_url, publishing, fake_twilio, tmp_path):
    """A worker logging JSON lines at INFO, as in production, delivering SMS to the fake Twilio."""
    providers = {"sms": [{"BACKEND": "notification_channels.sms.TwilioSMSProvider",
                          "OPTIONS": fake_twilio.provider_options()}]}
    env = {**os.environ, "DATABASE_URL": database_url(), "CELERY_BROKER_URL": broker_url, "SECRET_KEY": "ops-tests",
           "NOTIFICATION_PROVIDERS": json.dumps(providers), "DEBUG": "false", "LOG_LEVEL": "INFO",
           "LOG_FORMAT": "json", "DJANGO_SETTINGS_MODULE": "notifications_project.settings"}
    log_path = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "notifications_project", "worker", "--concurrency", "1",
         "--without-heartbeat", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: process.poll() is not None or bool(celery_app.control.ping(timeout=0.5))), \
            "the worker did not answer a ping within 30 s"
        assert process.poll() is None, "the worker exited at start"
        yield log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(log_path.read_text())  # shown only when the test fails


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
