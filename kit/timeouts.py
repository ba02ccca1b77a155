"""Time limits on API work, so one slow request cannot hold a web worker.

- On PostgreSQL, every statement of an API request (`/api/`, `/graphql`) runs under `statement_timeout`:
  DATABASE_STATEMENT_TIMEOUT_MS (0: none), or GRAPHQL_TIMEOUT_MS on GraphQL when that is shorter. Other paths (the
  admin, health, the dashboard) run under the server's own default. The setting is a session variable:
  it is sent only when a request needs another value than the connection already carries, so a worker
  serving only API traffic sends it once per connection.
- A GraphQL operation has a deadline (GRAPHQL_TIMEOUT_MS): past it, no further field resolves and no
  further statement starts; the client gets one `TIMEOUT` error. At most one statement that started
  before the deadline may still run, bounded by its own statement_timeout.
"""

import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from strawberry.extensions import SchemaExtension

from .errors import API_PATH_PREFIX, GRAPHQL_PATH_PREFIX, is_statement_timeout

__all__ = ["OperationDeadline", "OperationTimedOut", "StatementTimeoutMiddleware", "is_statement_timeout",
           "statement_timeout_for", "timeout_message"]

# The statement_timeout (ms) this context's statements should run under; None: the server's default.
_wanted: ContextVar[int | None] = ContextVar("statement_timeout_ms", default=None)

# What the connection's session carries, as far as we know; absent on a new connection (the default).
_CARRIED = "notif_statement_timeout_ms"
_UNKNOWN = -1


class OperationTimedOut(Exception):
    def __init__(self, limit_ms: int) -> None:
        super().__init__(f"The operation ran past its time limit of {limit_ms} ms and was stopped.")
        self.limit_ms = limit_ms


def timeout_message(limit_ms: int | None = None) -> str:
    limit_ms = limit_ms if limit_ms is not None else _wanted.get()
    if limit_ms is None:
        return "The request ran past the database's time limit and was stopped."
    return f"The request ran past its time limit of {limit_ms} ms and was stopped."


def statement_timeout_for(path: str) -> int | None:
    """The statement_timeout for a request to `path`, in ms; None: the server's default."""
    database_ms = settings.DATABASE_STATEMENT_TIMEOUT_MS
    if not database_ms or not path.startswith((API_PATH_PREFIX, GRAPHQL_PATH_PREFIX)):
        return None
    if path.startswith(GRAPHQL_PATH_PREFIX) and settings.GRAPHQL_TIMEOUT_MS:
        return min(database_ms, settings.GRAPHQL_TIMEOUT_MS)
    return database_ms


def _apply(database: BaseDatabaseWrapper, limit_ms: int | None) -> None:
    if getattr(database, _CARRIED, None) == limit_ms:
        return
    with database.cursor() as cursor:
        cursor.execute("RESET statement_timeout" if limit_ms is None else f"SET statement_timeout = {int(limit_ms)}")
    # Inside a transaction (ATOMIC_REQUESTS, or a test's) a rollback would undo the SET: send it again next time.
    setattr(database, _CARRIED, _UNKNOWN if database.in_atomic_block else limit_ms)


def _on_connection_created(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    setattr(connection, _CARRIED, None)
    if _wanted.get() is not None:
        _apply(connection, _wanted.get())


connection_created.connect(_on_connection_created, dispatch_uid="kit.timeouts")


class StatementTimeoutMiddleware:
    """Puts the request's statement_timeout on the connection: now if it is open, else when it opens."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit_ms = statement_timeout_for(request.path_info)
        token = _wanted.set(limit_ms)
        try:
            for database in connections.all(initialized_only=True):  # the primary, and a replica (kit/replica.py)
                if database.vendor == "postgresql" and database.connection is not None:
                    _apply(database, limit_ms)
            return self.get_response(request)
        finally:
            _wanted.reset(token)


class OperationDeadline(SchemaExtension):
    """Stops a GraphQL operation that runs past GRAPHQL_TIMEOUT_MS: fields and statements not yet started
    raise OperationTimedOut (the `TIMEOUT` code)."""

    limit_ms: int = 0
    deadline: float | None = None

    def on_execute(self) -> Iterator[None]:
        self.limit_ms = settings.GRAPHQL_TIMEOUT_MS
        if not self.limit_ms:
            yield
            return
        self.deadline = time.monotonic() + self.limit_ms / 1000
        with connection.execute_wrapper(self._before_statement):
            yield

    def _check(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OperationTimedOut(self.limit_ms)

    def _before_statement(self, execute: Callable[..., Any], sql: str, params: Any, many: bool,
                          context: dict[str, Any]) -> Any:
        self._check()
        return execute(sql, params, many, context)

    def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return _next(root, info, *args, **kwargs)
