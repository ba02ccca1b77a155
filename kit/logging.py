"""Structured logs: JSON lines, a request id on every line, and the id carried into Celery tasks."""

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
import traceback
import uuid
from collections.abc import Iterator
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# What a caller may send as its own id: bounded, and harmless in a header, a log line or a shell.
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_TASK_HEADER = "request_id"

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)

# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
# Keys whose values never reach a log line, whoever passes them: credentials and message content.
REDACTED_KEYS = frozenset({
    "authorization", "api_key", "key", "secret", "password", "token", "auth_token", "private_key",
    "body", "html_body", "subject", "context", "request", "cookie", "cookies",
})
REDACTED = "[redacted]"


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """The caller's id if it is safe to echo and log, else None (a new one is made instead)."""
    if value and _REQUEST_ID_PATTERN.fullmatch(value):
        return value
    return None


def get_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(value: str | None) -> contextvars.Token:
    """Make `value` the current request id; pass the token to `reset_request_id` when done."""
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)


@contextlib.contextmanager
def request_id_bound(value: str | None) -> Iterator[None]:
    """Within the block, `value` (when there is one) is the current request id."""
    if not value:
        yield
        return
    token = _request_id.set(value)
    try:
        yield
    finally:
        _request_id.reset(token)


# Paths whose rest is a credential: the preference page and one-click unsubscribe (`/u/<signed token>`).
SECRET_PATH_PREFIXES = ("/u/",)


def loggable_path(path: str) -> str:
    """The path as a log line may show it: a credential carried in the path is left out."""
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix):
            return prefix + REDACTED
    return path


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (None outside a request or task).

    Django writes its `django.request` line for a failed request after the middleware has returned
    (and unbound the id), with the request on the record: the id is read from the request then.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and isinstance(record.args, tuple):  # "Not Found: %s" with the path
            record.args = tuple(loggable_path(arg) if isinstance(arg, str) else arg for arg in record.args)
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or getattr(getattr(record, "request", None), "request_id", None)
        return True


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): REDACTED if str(key).lower() in REDACTED_KEYS else _jsonable(item)
                for key, item in value.items()}
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id and the record's `extra`.

    Our own formatter rather than python-json-logger: the field set is small and fixed, and the
    redaction of credential and message-content keys has to happen here either way.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
        }
        for key, value in vars(record).items():
            if key in _RECORD_ATTRIBUTES or key in entry or key.startswith("_"):
                continue
            entry[key] = REDACTED if key.lower() in REDACTED_KEYS else _jsonable(value)
        if record.exc_info:
            entry["exception"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """The human-readable line for development: the request id, then the `extra` fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get() or "-"
        extra = " ".join(f"{key}={REDACTED if key.lower() in REDACTED_KEYS else _jsonable(value)}"
                         for key, value in vars(record).items()
                         if key not in _RECORD_ATTRIBUTES and key != "request_id" and not key.startswith("_"))
        line = super().format(record)
        return f"{line} {extra}" if extra else line


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict: one console handler in the chosen format, request ids on every record."""
    formatter = {"()": JsonFormatter} if log_format == "json" else {"()": PlainFormatter}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"default": formatter},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "default",
                                 "filters": ["request_id"]}},
        "root": {"handlers": ["console"], "level": level},
        # Django's and Celery's loggers hand their lines to the root's handler: one format, no duplicates
        # (Django's own default sends "django" to a console handler of its own while DEBUG is on).
        "loggers": {"django": {"handlers": [], "level": level, "propagate": True}, "celery": {"level": level}},
    }


# Celery: the id travels in the task message's headers ------------------------------------------


def _put_request_id_in_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = _request_id.get()
    if headers is not None and request_id and _TASK_HEADER not in headers:
        headers[_TASK_HEADER] = request_id


def _bind_task_request_id(task: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    # An eager task runs inside its caller and keeps the caller's id; a task queued outside any
    # request (beat's sweep) is followed by its own task id.
    if task is None:
        return
    incoming = valid_request_id(getattr(task.request, _TASK_HEADER, None))
    task.request._request_id_token = _request_id.set(incoming or _request_id.get() or task_id)


def _unbind_task_request_id(task: Any = None, **kwargs: Any) -> None:
    token = getattr(task.request, "_request_id_token", None) if task is not None else None
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:  # set in another context (an eager task run inside a task); nothing to undo
            pass


def _configure_worker_logging(**kwargs: Any) -> None:
    # Connected to Celery's setup_logging: the worker logs through Django's LOGGING, not its own format.
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def connect_celery_signals() -> None:
    """Carry request ids through task headers and give workers the service's log format."""
    from celery import signals

    signals.before_task_publish.connect(_put_request_id_in_headers, weak=False)
    signals.task_prerun.connect(_bind_task_request_id, weak=False)
    signals.task_postrun.connect(_unbind_task_request_id, weak=False)
    signals.setup_logging.connect(_configure_worker_logging, weak=False)
