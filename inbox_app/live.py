"""Live updates: each committed change to a feed is published on Redis (a pub/sub channel per user, and a
short per-user stream that a reconnecting client resumes from with Last-Event-ID).

Without REDIS_URL (the embedded default) nothing is published and clients poll the feed's counts.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


def user_channel(user_id: int) -> str:
    return f"inbox:live:{user_id}"


def user_stream(user_id: int) -> str:
    return f"inbox:events:{user_id}"


_client = None


def redis_client():
    """The process's Redis client for live updates (None without REDIS_URL)."""
    global _client
    if not settings.REDIS_URL:
        return None
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    return _client


def event_publish(*, user_id: int, event: str, data: dict[str, Any]) -> str | None:
    """Add the event to the user's stream (kept to INBOX_LIVE_BACKLOG entries) and announce it on the
    user's channel; returns its id. A Redis failure is logged and swallowed: the change is committed,
    and clients catch up from the counts in the next answer they get."""
    client = redis_client()
    if client is None:
        return None
    payload = json.dumps(data, separators=(",", ":"), default=str)
    try:
        event_id = client.xadd(user_stream(user_id), {"event": event, "data": payload},
                               maxlen=settings.INBOX_LIVE_BACKLOG, approximate=True)
        event_id = event_id.decode() if isinstance(event_id, bytes) else event_id
        client.expire(user_stream(user_id), settings.INBOX_LIVE_BACKLOG_SECONDS)
        client.publish(user_channel(user_id), event_id)
        return event_id
    except Exception as err:  # noqa: BLE001 - redis-py raises several families; none may fail the change
        logger.warning("could not publish a live inbox event", extra={"user_id": user_id,
                                                                      "error": type(err).__name__})
        return None
