"""Structured logs: JSON lines, the request id from request to response to the delivering task, no secrets."""

import io
import json
import logging
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from kit.logging import (
    JsonFormatter,
    RequestIdFilter,
    _bind_task_request_id,
    _put_request_id_in_headers,
    _unbind_task_request_id,
    bind_request_id,
    get_request_id,
    reset_request_id,
)
from tests.ops.conftest import CONTEXT

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Every log line written while the test runs, as the production handler would format it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def format_record(message: str, exc_info=None, **extra) -> dict:
    record = logging.LogRecord("logs_app.services", logging.INFO, __file__, 1, message, None, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return json.loads(JsonFormatter().format(record))


def test_a_line_has_the_fixed_fields_and_the_extra_ones():
    token = bind_request_id("req-1")
    try:
        line = format_record("notification sent", log_id=7, provider="twilio", attempts=1)
    finally:
        reset_request_id(token)
    assert line["message"] == "notification sent" and line["level"] == "INFO"
    assert line["logger"] == "logs_app.services" and line["timestamp"].endswith("+00:00")
    assert (line["request_id"], line["log_id"], line["provider"], line["attempts"]) == ("req-1", 7, "twilio", 1)


def test_credentials_and_message_content_never_reach_a_line():
    line = format_record("oops", authorization="Api-Key abc.def", body="Your code is 4711", html_body="<p>x</p>",
                         password="hunter2", headers={"Authorization": "Bearer t", "Accept": "json"})
    text = json.dumps(line)
    assert "abc.def" not in text and "4711" not in text and "hunter2" not in text and "Bearer t" not in text
    assert line["body"] == "[redacted]" and line["headers"] == {"Authorization": "[redacted]", "Accept": "json"}


def test_an_exception_is_one_field_of_the_same_line():
    try:
        raise ValueError("boom")
    except ValueError:
        line = format_record("failed", exc_info=sys.exc_info())
    assert "ValueError: boom" in line["exception"]


def test_the_request_id_is_taken_echoed_or_made(client):
    assert client.get("/health/live", HTTP_X_REQUEST_ID="trace-42").headers["X-Request-ID"] == "trace-42"
    made = client.get("/health/live").headers["X-Request-ID"]
    assert len(made) == 32 and int(made, 16) >= 0
    for unsafe in ("a b", "x" * 129, "id\r\nSet-Cookie: a=b", "<script>"):
        echoed = client.get("/health/live", HTTP_X_REQUEST_ID=unsafe).headers["X-Request-ID"]
        assert echoed != unsafe and len(echoed) == 32


@pytest.mark.django_db(transaction=True)  # commits for real, so the task runs inside the request as in production
def test_every_line_of_a_send_carries_the_request_id_into_the_task(user, make_client, json_lines):
    # No broker: the delivery task runs in process, as the embedded default does.
    response = make_client().post("/api/v1/notifications/", {"user_id": 1001, "template_name": "code_sms",
                                                             "context": CONTEXT},
                                  format="json", HTTP_X_REQUEST_ID="order-4711-trace")
    assert response.status_code == 202 and response.headers["X-Request-ID"] == "order-4711-trace"
    lines = json_lines()
    by_message = {line["message"]: line for line in lines}
    assert {"notification accepted", "notification sent", "request finished"} <= set(by_message)
    assert {line["request_id"] for line in lines} == {"order-4711-trace"}
    sent = by_message["notification sent"]
    assert sent["log_id"] == response.json()["id"] and sent["provider"] == "console"
    finished = by_message["request finished"]
    assert (finished["route"], finished["status"]) == ("/api/v1/notifications/", 202)
    assert "Your code is 4711" not in json.dumps(lines) and "Api-Key" not in json.dumps(lines)
    assert get_request_id() is None  # nothing leaks into the next request
    messages = [line["message"] for line in lines]
    assert messages.index("notification accepted") < messages.index("notification sent")
    assert not [line for line in lines if line["logger"].startswith("kombu")]  # no broker, no broker warnings


def test_a_failed_requests_django_line_carries_its_request_id(make_client, json_lines):
    response = make_client().post("/api/v1/templates/", {}, format="json", HTTP_X_REQUEST_ID="bad-input-7")
    assert response.status_code == 400
    django_lines = [line for line in json_lines() if line["logger"] == "django.request"]
    assert [(line["level"], line["request_id"]) for line in django_lines] == [("WARNING", "bad-input-7")]


@pytest.mark.parametrize("path", ["/api/v1/notifications/", "/graphql/"])
def test_an_oversized_body_is_one_warning_line_without_a_traceback(make_client, json_lines, settings, path):
    settings.API_MAX_BODY_BYTES = 1000
    body = json.dumps({"query": "{ x }", "padding": "x" * 4000})
    response = make_client().post(path, body, content_type="application/json", HTTP_X_REQUEST_ID="too-big-1")
    assert response.status_code == 413
    lines = [line for line in json_lines() if line["level"] not in ("INFO", "DEBUG")]
    assert [(line["level"], line["request_id"]) for line in lines] == [("WARNING", "too-big-1")]
    assert "exception" not in lines[0]


def test_a_command_prints_no_axes_banner():
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, capture_output=True, text=True,
                          env={**os.environ, "DEBUG": "true"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "BEGIN version" not in done.stdout + done.stderr


def test_task_headers_carry_the_id_to_the_worker_and_it_is_dropped_after():
    headers: dict = {}
    token = bind_request_id("from-the-request")
    try:
        _put_request_id_in_headers(headers=headers)
    finally:
        reset_request_id(token)
    assert headers == {"request_id": "from-the-request"}

    # In the worker: the header arrives on task.request; the task's lines carry it, and only them.
    task = types.SimpleNamespace(request=types.SimpleNamespace(request_id=headers["request_id"]))
    _bind_task_request_id(task=task, task_id="celery-task-id")
    assert get_request_id() == "from-the-request"
    _unbind_task_request_id(task=task)
    assert get_request_id() is None

    # A task queued by beat (no request) is followed by its task id.
    beat_task = types.SimpleNamespace(request=types.SimpleNamespace())
    _bind_task_request_id(task=beat_task, task_id="sweep-task-id")
    assert get_request_id() == "sweep-task-id"
    _unbind_task_request_id(task=beat_task)


def test_a_preference_link_token_stays_out_of_the_log(client, json_lines):
    from consent_app.tokens import token_make

    token = token_make(user_id=4242)
    client.get(f"/u/{token}")
    client.post(f"/u/{token}x", {"List-Unsubscribe": "One-Click"})  # a forged one: Django logs "Not Found"

    written = json.dumps(json_lines())
    assert "/u/[redacted]" in written and token not in written
