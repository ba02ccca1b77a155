"""Per-provider pacing: a provider given a `RATE` (messages per second, in NOTIFICATION_PROVIDERS) receives at
most that many sends in any second, counted across every worker process through Redis; a 429 or a
Retry-After from it lowers the pace for a while.

Each send takes the provider's next free slot in one Lua call (atomic on the Redis server, on Redis's
clock) and sleeps until it. Slots are spread evenly over the first 90% of each second: a provider counts
per second, and the last tenth absorbs the jitter between our sending and its receiving, so a send
started late in one second is not counted in the next. Below one message a second, slots are 1/RATE
apart. A send whose slot is further off than NOTIFICATION_PACE_MAX_WAIT_SECONDS takes no slot and raises
`Paced` (a transient error: the log is retried after the wait, and the try is not counted).

A 429 or a Retry-After halves the pace (at most once a second, down to a sixteenth) for
NOTIFICATION_PACE_SLOW_SECONDS, and no slot is given before the Retry-After has passed.

Without Redis (REDIS_URL unset) there is one process to pace, and the same rule runs in it. A Redis that
does not answer does not stop deliveries: the send goes unpaced and a warning says so.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import redis
from django.conf import settings

from notification_channels.base import Paced

logger = logging.getLogger(__name__)

# The share of each second in which slots are given (see the module's docstring).
SLOT_SHARE = 0.9
SLOWEST_FACTOR = 1 / 16


def next_slot(*, now: float, free_at: float, rate: float) -> tuple[float, float]:
    """(the slot a send gets, the next free one) for a provider paced at `rate` messages a second whose next
    free slot is `free_at`. The Lua script below is this function, run on the Redis server."""
    slot = max(now, free_at)
    if rate < 1:
        return slot, slot + 1 / rate
    per_second = math.floor(rate)
    spacing = SLOT_SHARE / per_second
    second = math.floor(slot)
    index = math.ceil((slot - second) / spacing - 1e-9)
    if index >= per_second:
        second, index = second + 1, 0
    slot = second + index * spacing
    return slot, slot + spacing


# KEYS: the provider's next free slot, its slow-down factor. ARGV: rate, most seconds to wait, slot share.
# Returns {taken (1/0), seconds to wait} as strings (Redis turns Lua numbers into integers).
_TAKE_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1]) * tonumber(redis.call('GET', KEYS[2]) or '1')
local slot = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local free
if rate < 1 then
  free = slot + 1 / rate
else
  local per_second = math.floor(rate)
  local spacing = tonumber(ARGV[3]) / per_second
  local second = math.floor(slot)
  local index = math.ceil((slot - second) / spacing - 1e-9)
  if index >= per_second then
    second = second + 1
    index = 0
  end
  slot = second + index * spacing
  free = slot + spacing
end
local wait = slot - now
if wait > tonumber(ARGV[2]) then
  return {'0', string.format('%.6f', wait)}
end
redis.call('SET', KEYS[1], string.format('%.6f', free), 'PX', math.ceil((free - now) * 1000) + 1000)
return {'1', string.format('%.6f', wait)}
"""

# KEYS: as above. ARGV: seconds the slow-down lasts, the slowest factor, seconds of Retry-After (0: none).
_SLOW_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local lasts = tonumber(ARGV[1])
local factor = tonumber(redis.call('GET', KEYS[2]) or '1')
local left = redis.call('PTTL', KEYS[2])
if left < (lasts - 1) * 1000 then
  factor = math.max(factor / 2, tonumber(ARGV[2]))
end
redis.call('SET', KEYS[2], string.format('%.6f', factor), 'PX', math.ceil(lasts * 1000))
local hold = tonumber(ARGV[3])
if hold > 0 then
  local free = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + hold)
  redis.call('SET', KEYS[1], string.format('%.6f', free), 'PX', math.ceil((free - now) * 1000) + 1000)
end
return string.format('%.6f', factor)
"""


class Pace:
    """One provider's pace, shared by every process that builds it with the same `key`."""

    def __init__(self, *, key: str, rate: float) -> None:
        self.key, self.rate = key, rate
        prefix = f"{settings.CACHES['default'].get('KEY_PREFIX') or 'notif'}:pace:{key}"
        self._keys = [f"{prefix}:free", f"{prefix}:slow"]
        self._client: Any = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2) \
            if settings.REDIS_URL else None
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()  # the process's own state, without Redis
        self._free_at, self._factor, self._slow_until = 0.0, 1.0, 0.0

    def __repr__(self) -> str:
        return f"<Pace {self.key} {self.rate:g}/s>"

    def wait(self, *, provider: str) -> None:
        """Sleep until this send's slot; raises `Paced` when it is further off than the most we wait."""
        most = settings.NOTIFICATION_PACE_MAX_WAIT_SECONDS
        try:
            taken, wait = self._take(most)
        except redis.RedisError as err:
            logger.warning("pacing unavailable, sending unpaced", extra={"pace": self.key, "error": type(err).__name__})
            return
        if not taken:
            raise Paced(f"paced at {self.rate:g}/s: no free slot for {wait:.1f}s", provider=provider,
                        retry_after=wait, code="paced")
        if wait > 0:
            time.sleep(wait)

    def slow_down(self, *, retry_after: float | None) -> None:
        """The provider pushed back (429 or Retry-After): halve the pace for a while; hold until Retry-After."""
        lasts = settings.NOTIFICATION_PACE_SLOW_SECONDS
        try:
            factor = self._slow(lasts, retry_after or 0)
        except redis.RedisError as err:
            logger.warning("pacing unavailable, pace not lowered", extra={"pace": self.key, "error": type(err).__name__})
            return
        logger.warning("provider pushed back; pace lowered", extra={
            "pace": self.key, "rate": round(self.rate * factor, 3), "seconds": lasts, "retry_after": retry_after})

    def _script(self, name: str, source: str) -> Any:
        if name not in self._scripts:
            self._scripts[name] = self._client.register_script(source)
        return self._scripts[name]

    def _take(self, most: float) -> tuple[bool, float]:
        if self._client is not None:
            taken, wait = self._script("take", _TAKE_LUA)(keys=self._keys, args=[self.rate, most, SLOT_SHARE])
            return taken in (b"1", "1"), float(wait)
        with self._lock:
            now = time.time()
            factor = self._factor if now < self._slow_until else 1.0
            slot, free = next_slot(now=now, free_at=self._free_at, rate=self.rate * factor)
            if slot - now > most:
                return False, slot - now
            self._free_at = free
            return True, slot - now

    def _slow(self, lasts: float, hold: float) -> float:
        if self._client is not None:
            return float(self._script("slow", _SLOW_LUA)(keys=self._keys, args=[lasts, SLOWEST_FACTOR, hold]))
        with self._lock:
            now = time.time()
            factor = self._factor if now < self._slow_until else 1.0
            if self._slow_until - now < lasts - 1:
                factor = max(factor / 2, SLOWEST_FACTOR)
            self._factor, self._slow_until = factor, now + lasts
            if hold:
                self._free_at = max(self._free_at, now + hold)
            return factor
