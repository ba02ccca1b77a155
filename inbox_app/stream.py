"""Live updates over Server-Sent Events: GET /api/v1/feed/stream/ (text/event-stream), one open response
per browser tab, fed by Redis.

Each process holds one Redis pub/sub connection (a pattern subscription to every user's channel) and wakes
the streams of the user a change names; a woken stream reads what it has not sent from the user's Redis
stream (live.user_stream), so an event published while it was busy is not lost, and a client reconnecting
with Last-Event-ID gets what it missed (as long as the backlog holds it; else it gets the counts anew).

It is an async view: served by an ASGI server (uvicorn, `notifications_project.asgi`), an open stream holds
no thread, only a coroutine. A WSGI server would hold a whole worker per open stream, so there the stream
answers 503 (Django would also have to read an async stream to its end before a WSGI server could send it);
clients then poll GET /api/v1/feed/counts/, as they do without Redis.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from kit.errors import error_body

from . import live, selectors, services
from .api import FeedMessageOutputSerializer
from .authentication import feed_user_for
from .tokens import FeedTokenRefused

logger = logging.getLogger(__name__)

# A quiet stream sends a comment this often, so proxies and browsers keep it open.
KEEPALIVE_SECONDS = 15
# A stream ends after this long; EventSource reconnects at once (Last-Event-ID), and the token is checked again.
STREAM_MAX_SECONDS = 300
# Browsers wait this long before reconnecting a stream that ended.
RETRY_MS = 2000


class Hub:
    """One event loop's pub/sub listener: wakes the streams open for a user when their channel speaks."""

    def __init__(self) -> None:
        self.waiting: dict[int, set[asyncio.Event]] = {}
        self.task: asyncio.Task | None = None

    def join(self, user_id: int) -> asyncio.Event:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._listen())
        woken = asyncio.Event()
        self.waiting.setdefault(user_id, set()).add(woken)
        return woken

    def leave(self, user_id: int, woken: asyncio.Event) -> None:
        streams = self.waiting.get(user_id)
        if streams is not None:
            streams.discard(woken)
            if not streams:
                del self.waiting[user_id]

    async def _listen(self) -> None:
        """Listen until the loop ends; a lost connection is made again (streams are woken meanwhile, so
        each reads what it missed)."""
        import redis.asyncio as aioredis

        prefix = live.user_channel(0)[:-1]
        while True:
            client = aioredis.Redis.from_url(settings.REDIS_URL)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.psubscribe(f"{prefix}*")
                    self._wake_all()
                    async for message in pubsub.listen():
                        if message.get("type") != "pmessage":
                            continue
                        user_id = int(message["channel"].decode().removeprefix(prefix))
                        for woken in self.waiting.get(user_id, ()):
                            woken.set()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - any Redis failure: wait, then listen again
                logger.warning("live inbox listener lost Redis; retrying", extra={"error": type(err).__name__})
                self._wake_all()
                await asyncio.sleep(1)
            finally:
                await client.aclose()

    def _wake_all(self) -> None:
        for streams in self.waiting.values():
            for woken in streams:
                woken.set()


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def _hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [old for old in _hubs if old.is_closed()]:
            del _hubs[old]
        hub = _hubs[loop] = Hub()
    return hub


def _event(event: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


def _database(read):
    """`read` run in the loop's shared thread pool (not a thread per stream, as Django's per-request thread
    would be), on that thread's connection, kept while healthy: at most one connection per pool thread
    however many streams are open."""
    def run(*args):
        close_old_connections()
        return read(*args)
    return sync_to_async(run, thread_sensitive=False)


def _counts_data(user_id: int) -> dict[str, int]:
    counts = services.feed_counts_get(user_id=user_id)
    return {"unread_count": counts.unread, "unseen_count": counts.unseen}


def _messages_data(user_id: int, ids: list[int]) -> dict[int, dict[str, Any]]:
    return {message.pk: dict(FeedMessageOutputSerializer(message).data)
            for message in selectors.feed_messages_by_id(user_id=user_id, ids=ids)}


async def _stream(user_id: int, last_id: str | None) -> AsyncIterator[bytes]:
    """The events of one open stream: the counts (or what a reconnecting client missed), then each change."""
    import redis.asyncio as aioredis

    hub = _hub()
    woken = hub.join(user_id)  # before the first read, so nothing published after it is missed
    client = aioredis.Redis.from_url(settings.REDIS_URL)
    stream = live.user_stream(user_id)
    ends_at = time.monotonic() + STREAM_MAX_SECONDS
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        first = await client.xrange(stream, count=1)
        if last_id is None or not first or _older(last_id, first[0][0].decode()):
            # A new client, or one that missed more than the backlog holds: the counts as they stand.
            latest = await client.xrevrange(stream, count=1)
            last_id = latest[0][0].decode() if latest else "0-0"
            yield _event("counts", {"action": "sync", "ids": [], **await _database(_counts_data)(user_id)},
                         last_id)
        while time.monotonic() < ends_at:
            entries = await client.xrange(stream, min=f"({last_id}", count=100)
            for entry_id, fields in entries:
                last_id = entry_id.decode()
                yield await _entry_event(user_id, last_id, fields)
            if len(entries) == 100:
                continue
            woken.clear()
            try:
                await asyncio.wait_for(woken.wait(), timeout=min(KEEPALIVE_SECONDS, max(0.0, ends_at - time.monotonic())))
            except asyncio.TimeoutError:
                yield b": keep-alive\n\n"
    finally:
        hub.leave(user_id, woken)
        await client.aclose()


def _older(event_id: str, than: str) -> bool:
    """Whether a stream id comes before another (ids are "milliseconds-sequence")."""
    def key(value: str) -> tuple[int, int]:
        ms, _, seq = value.partition("-")
        return int(ms), int(seq or 0)
    return key(event_id) < key(than)


async def _entry_event(user_id: int, event_id: str, fields: dict[bytes, bytes]) -> bytes:
    event, data = fields[b"event"].decode(), json.loads(fields[b"data"])
    if event == "message":
        found = await _database(_messages_data)(user_id, data["ids"])
        data["item"] = found.get(data["ids"][0]) if data["ids"] else None
    return _event(event, data, event_id)


_EVENT_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@require_GET
async def feed_stream(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/feed/stream/?token=...: the token's feed changes, as Server-Sent Events."""
    header = request.headers.get("Authorization", "")
    credential = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else request.GET.get("token")
    if not credential:
        return _refuse(401, "A feed token is required: `?token=<token>` or `Authorization: Bearer <token>`.")
    try:
        user = feed_user_for(credential)
    except FeedTokenRefused as err:
        return _refuse(401, str(err))
    if not settings.REDIS_URL:
        return _refuse(503, "Live updates need Redis (REDIS_URL); poll GET /api/v1/feed/counts/ instead.")
    if not isinstance(request, ASGIRequest):  # WSGI would read the whole endless stream before answering
        return _refuse(503, "Live updates are served by the ASGI server; poll GET /api/v1/feed/counts/ instead.")
    last_id = request.headers.get("Last-Event-ID") or request.GET.get("last_event_id")
    if last_id is not None and not _EVENT_ID.match(last_id):
        return _refuse(400, "last_event_id: Not an event id this stream gave out.")
    response = StreamingHttpResponse(_stream(user.user_id, last_id), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _refuse(status: int, detail: str) -> JsonResponse:
    response = JsonResponse(error_body(status, detail), status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response
