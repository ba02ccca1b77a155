"""Reads that may lag go to the read replica; everything else goes to the primary.

With DATABASE_REPLICA_URL set, the settings add a `replica` database alias (DATABASE_REPLICA_ALIAS) and
ReplicaRouter. Code marks the reads that may be a little behind with `lagging_reads()` (the log lists, the
delivery dashboard, exports, the metrics backlog); the router sends them to the replica, unless

- a transaction is open on the primary (a read inside a transaction that writes must see its writes),
- the request writes (a REST POST, PUT, PATCH or DELETE, a GraphQL mutation), or
- the same API key wrote within DATABASE_REPLICA_PIN_SECONDS: a client that sends and then lists its
  logs sees what it sent, whatever the replica's lag (the pin is a cache key per API key prefix).

Every other read, every write and every migration stays on the primary. Without a replica nothing changes.
"""

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse

from .errors import GRAPHQL_PATH_PREFIX

logger = logging.getLogger(__name__)

T = TypeVar("T")

API_KEY_KEYWORD = "Api-Key "
PIN_KEY = "replica-pin:{client}"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class _RequestState:
    client: str  # the API key's prefix, as the Authorization header names it ("" for none)
    wrote: bool
    pinned: bool | None = None  # read from the cache at the first lagging read, then kept


_lagging: ContextVar[bool] = ContextVar("replica_lagging_reads", default=False)
_request: ContextVar[_RequestState | None] = ContextVar("replica_request", default=None)


def replica_alias() -> str:
    """The replica's database alias, or "" when there is none."""
    return settings.DATABASE_REPLICA_ALIAS


def _client_pinned(state: _RequestState) -> bool:
    if state.pinned is None:
        try:
            state.pinned = bool(state.client) and cache.get(PIN_KEY.format(client=state.client)) is not None
        except Exception:  # a cache that does not answer: the primary, which is never behind
            logger.warning("replica pin unreadable; reading from the primary", exc_info=True)
            state.pinned = True
    return state.pinned


def _may_lag() -> bool:
    """Whether a read started now may be served by the replica (the rules in the module's docstring)."""
    if not _lagging.get() or not replica_alias() or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return False
    state = _request.get()
    return state is None or not (state.wrote or _client_pinned(state))


@contextlib.contextmanager
def lagging_reads() -> Iterator[None]:
    """Reads inside (a `with` block, or a decorated function) may be answered by the replica."""
    token = _lagging.set(True)
    try:
        yield
    finally:
        _lagging.reset(token)


def lagging_stream(pieces: Iterator[T]) -> Iterator[T]:
    """`pieces` (a generator that reads as it goes, as a streamed export does) read under lagging_reads, piece
    by piece. Whether the request's client is pinned to the primary is decided now, while the request is
    being handled, since a streamed answer is read after its view has returned."""
    state = _request.get()
    use_replica = state is None or not (state.wrote or _client_pinned(state))
    while True:
        with lagging_reads() if use_replica else contextlib.nullcontext():
            try:
                piece = next(pieces)
            except StopIteration:
                return
        yield piece


def mark_written() -> None:
    """The current request writes: its own reads, and its client's for the pin's time, go to the primary."""
    state = _request.get()
    if state is not None:
        state.wrote = True


class ReplicaRouter:
    """Django's database router for the rules above (DATABASE_ROUTERS)."""

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return replica_alias() if _may_lag() else DEFAULT_DB_ALIAS

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database seen twice

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        return False if db == replica_alias() else None


def _client_of(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header[len(API_KEY_KEYWORD):].partition(".")[0].strip() if header.startswith(API_KEY_KEYWORD) else ""


class ReplicaPinMiddleware:
    """Keeps a writing request, and its API key's requests for DATABASE_REPLICA_PIN_SECONDS after a write
    that succeeded, on the primary. Does nothing without a replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_alias():
            return self.get_response(request)
        # A GraphQL POST may be a query: a mutation says so itself (kit.graphql.ReplicaPinExtension).
        writes = request.method not in SAFE_METHODS and not request.path_info.startswith(GRAPHQL_PATH_PREFIX)
        state = _RequestState(client=_client_of(request), wrote=writes)
        token = _request.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request.reset(token)
        if state.wrote and state.client and response.status_code < 400:
            try:
                cache.set(PIN_KEY.format(client=state.client), 1, timeout=settings.DATABASE_REPLICA_PIN_SECONDS)
            except Exception:
                logger.warning("replica pin not written; the client's next reads may lag", exc_info=True)
        return response

