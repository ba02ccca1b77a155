"""Rate limits per client IP, per minute and per hour, per endpoint group: a sliding-window estimate
over django-ratelimit's fixed windows (one Lua call on Redis), the X-RateLimit-* headers, and 429."""

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, get_usage
from django_redis.exceptions import ConnectionInterrupted

from . import metrics
from .cache import prefetched_values
from .errors import GRAPHQL_PATH_PREFIX, error_response, graphql_error_response
from .views import view_read_ahead

logger = logging.getLogger(__name__)

@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in proxies)


@functools.lru_cache(maxsize=4096)  # every request parses its peer's address: callers and proxies repeat
def _parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a listener or a proxy writes it: `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`,
    `[2001:db8::1]` or `[2001:db8::1]:4711`. An IPv4 client written as IPv6 (`::ffff:203.0.113.7`, what a
    dual-stack listener reports) is that IPv4 address: otherwise every such client would fall in one /64."""
    text = value.strip()
    if text.startswith("["):
        text, bracket, _port = text[1:].partition("]")
        if not bracket:
            return None
    elif text.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has two colons or more
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or, when that is a trusted proxy, the nearest untrusted
    X-Forwarded-For hop (read from the right, since a client can put anything on the left).

    IPv6 addresses are counted per /64, the block one subscriber usually holds; IPv4-mapped ones
    (`::ffff:a.b.c.d`) as the IPv4 address they carry. A port (`a.b.c.d:port`, `[v6]:port`) is dropped.
    """
    trusted = _trusted_networks(tuple(settings.RATELIMIT_TRUSTED_PROXIES))
    address = _parse_ip(request.META.get("REMOTE_ADDR", ""))
    if address is not None and any(address in network for network in trusted):
        for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
            hop_address = _parse_ip(hop)
            if hop_address is None:
                break
            address = hop_address
            if not any(address in network for network in trusted):
                break
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def login_client_ip(request: HttpRequest) -> str | None:
    """`client_ip` for django-axes (AXES_CLIENT_IP_CALLABLE), which stores it in an IP field: None if unknown."""
    address = client_ip(request)
    return None if address == "unknown" else address


def rate_limit_group(request: HttpRequest) -> str | None:
    """The group of RATELIMIT_RATES a request counts against (first matching RATELIMIT_PATH_GROUPS rule)."""
    for prefix, methods, group in settings.RATELIMIT_PATH_GROUPS:
        if request.path_info.startswith(prefix) and (not methods or request.method in methods):
            return group
    return None


@dataclass(frozen=True)
class WindowUsage:
    period: int  # seconds
    limit: int
    used: int  # sliding-window estimate of the accepted requests, this one included if accepted
    reset: int  # epoch seconds when the current fixed window ends
    exceeded: bool  # this request did not fit in this window
    retry_after: int  # seconds until one more request fits (meaningful when exceeded)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True)
class RateLimitResult:
    group: str
    windows: tuple[WindowUsage, ...]
    # Cache entries read in the same round trip (rate_limit_hit's `read_ahead`): key -> value, None if absent.
    read: Mapping[str, Any] = field(default_factory=dict)

    @property
    def limited(self) -> bool:
        return any(window.exceeded for window in self.windows)

    @property
    def retry_after(self) -> int:
        return max((window.retry_after for window in self.windows if window.exceeded), default=0)

    def headers(self) -> dict[str, str]:
        # The headline X-RateLimit-* describe the window closest to refusing (a tie goes to the one
        # that stays spent longer); the per-minute and per-hour pairs are always both given.
        binding = min(self.windows, key=lambda window: (not window.exceeded, window.remaining, -window.reset))
        headers = {
            "X-RateLimit-Limit": str(binding.limit),
            "X-RateLimit-Remaining": str(binding.remaining),
            "X-RateLimit-Reset": str(binding.reset),
            "X-RateLimit-Window": str(binding.period),
        }
        for window in self.windows:
            name = WINDOW_NAMES[window.period]
            headers[f"X-RateLimit-Limit-{name}"] = str(window.limit)
            headers[f"X-RateLimit-Remaining-{name}"] = str(window.remaining)
        return headers


WINDOWS = {"minute": 60, "hour": 3600}
WINDOW_NAMES = {60: "Minute", 3600: "Hour"}


def _ip_key(group: str, request: HttpRequest) -> str:
    return client_ip(request)


def _seconds_until_allowed(*, limit: int, count: int, previous: int, time_left: int, period: int) -> int:
    """When one more request fits the sliding estimate, given `count` accepted in this window."""
    if limit <= 0:
        return time_left + period
    if count + 1 <= limit and previous:
        # Still in this window: wait for enough of the previous window's weight to expire.
        return math.ceil(time_left - (limit - count - 1) * period / previous)
    # After this window ends, its count becomes the previous one and expires gradually.
    return time_left + math.ceil(period - (limit - 1) * period / max(count, 1))


@dataclass
class _Counted:
    limit: int
    period: int
    count: int  # this fixed window's count, this request included
    window_end: int
    current_key: str
    previous_key: str


def rate_limit_hit(request: HttpRequest, group: str, *, read_ahead: Sequence[str] = ()) -> RateLimitResult | None:
    """Count this request against `group`'s per-minute and per-hour limits for the client's IP.

    django-ratelimit counts fixed windows in the shared cache; the estimate adds the previous
    window's count weighted by how much of it still lies within the sliding window, so a client
    cannot spend two windows' worth around a boundary. A refused request is not counted.
    Returns None when rate limiting is off or the group has no limits. On Redis, the cache entries
    named by `read_ahead` are read in the same round trip and come back in the result's `read`
    (elsewhere `read` stays empty and readers go to the cache themselves).
    """
    rates = settings.RATELIMIT_RATES.get(group)
    if not rates or not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    client = client_ip(request)
    redis_client = _redis_client(cache)
    if redis_client is not None:
        return _rate_limit_hit_redis(cache, redis_client, group, rates, client, read_ahead)
    counted: list[_Counted] = []
    for name, period in WINDOWS.items():
        rate = (int(rates[name]), period)
        usage = get_usage(request, group=f"api:{group}", key=_ip_key, rate=rate, method=ALL, increment=True)
        if usage is None:
            return None
        window_end = int(time.time()) + usage["time_left"]
        entry = _Counted(limit=rate[0], period=period, count=int(usage["count"]), window_end=window_end,
                         current_key=_make_cache_key(f"api:{group}", window_end, rate, client, ALL),
                         previous_key=_make_cache_key(f"api:{group}", window_end - period, rate, client, ALL))
        if entry.count == 1:
            # django-ratelimit lets a window's count expire just after the window; the estimate
            # still reads it as the previous window's count throughout the next one.
            cache.touch(entry.current_key, 2 * period + EXPIRATION_FUDGE)
        counted.append(entry)

    previous_counts = cache.get_many([entry.previous_key for entry in counted])
    now = int(time.time())
    weighted = {}
    for entry in counted:
        time_left = max(0, entry.window_end - now)
        previous = int(previous_counts.get(entry.previous_key) or 0)
        weighted[entry.period] = (time_left, previous, math.floor(previous * time_left / entry.period))
    exceeded = {entry.period: entry.count + weighted[entry.period][2] > entry.limit for entry in counted}
    limited = any(exceeded.values())
    windows = []
    for entry in counted:
        if limited:
            cache.decr(entry.current_key)
            entry.count -= 1
        time_left, previous, carried = weighted[entry.period]
        retry_after = _seconds_until_allowed(limit=entry.limit, count=entry.count, previous=previous,
                                             time_left=time_left, period=entry.period)
        windows.append(WindowUsage(period=entry.period, limit=entry.limit, used=entry.count + carried,
                                   reset=entry.window_end, exceeded=exceeded[entry.period],
                                   retry_after=max(1, retry_after)))
    return RateLimitResult(group=group, windows=tuple(windows))


# The whole sliding-window check in one Redis round trip, on django-ratelimit's keys and windows:
# count this request in each current fixed window (a new window's key lives through the next one,
# where it weighs in as the previous count), read each previous window's count, and if any window
# is over its limit take this request back out of every window. Then read the cache entries the
# request will need, so that they come back in the same reply.
# KEYS: current, previous per window, then the entries to read; ARGV: the number of windows, then
# limit, period, seconds left in the current window, per window. Returns count, previous per window,
# then 1 if limited, then the entries' values (nil for a missing one).
_SLIDING_WINDOW_LUA = """
local n = tonumber(ARGV[1])
local counts, previous, limited = {}, {}, 0
for i = 1, n do
  local limit, period, left = tonumber(ARGV[3*i-1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i+1])
  local count = redis.call('INCR', KEYS[2*i-1])
  if count == 1 then redis.call('EXPIRE', KEYS[2*i-1], 2 * period + %d) end
  local prev = tonumber(redis.call('GET', KEYS[2*i]) or '0') or 0
  counts[i], previous[i] = count, prev
  if count + math.floor(prev * left / period) > limit then limited = 1 end
end
local out = {}
for i = 1, n do
  if limited == 1 then counts[i] = redis.call('DECR', KEYS[2*i-1]) end
  out[2*i-1], out[2*i] = counts[i], previous[i]
end
out[2*n+1] = limited
for i = 2*n+1, #KEYS do
  out[i+1] = redis.call('GET', KEYS[i])
end
return out
""" % EXPIRATION_FUDGE

_scripts: dict[int, Any] = {}


def _redis_client(cache: Any) -> Any:
    """The raw Redis client behind a django-redis cache (None for any other cache backend)."""
    client = getattr(cache, "client", None)
    get_client = getattr(client, "get_client", None)
    if get_client is None or not hasattr(cache, "make_key"):
        return None
    return get_client(write=True)


def _rate_limit_hit_redis(cache: Any, redis_client: Any, group: str, rates: dict, client: str,
                          read_ahead: Sequence[str]) -> RateLimitResult:
    """`rate_limit_hit` on Redis: the same keys, windows and estimate, and the reads, in one script call."""
    script = _scripts.get(id(redis_client))
    if script is None:
        script = _scripts[id(redis_client)] = redis_client.register_script(_SLIDING_WINDOW_LUA)
    now = int(time.time())
    entries, keys, args = [], [], [len(WINDOWS)]
    for name, period in WINDOWS.items():
        rate = (int(rates[name]), period)
        window_end = _get_window(client, period)
        current = _make_cache_key(f"api:{group}", window_end, rate, client, ALL)
        previous = _make_cache_key(f"api:{group}", window_end - period, rate, client, ALL)
        keys += [cache.make_key(current), cache.make_key(previous)]
        args += [rate[0], period, max(0, window_end - now)]
        entries.append((rate[0], period, window_end))
    keys += [cache.make_key(key) for key in read_ahead]
    reply = script(keys=keys, args=args)  # EVALSHA; the script is loaded again if Redis has forgotten it
    counts, values = reply[:2 * len(entries) + 1], reply[2 * len(entries) + 1:]
    read: dict[str, Any] = {}
    for key, value in zip(read_ahead, values):
        try:
            read[key] = None if value is None else cache.client.decode(value)
        except Exception:  # an entry that no longer decodes: its reader reads it itself, with its own fallback
            continue
    answer = [int(value) for value in counts]
    limited = bool(answer[-1])
    windows = []
    for index, (limit, period, window_end) in enumerate(entries):
        count, previous = answer[2 * index], answer[2 * index + 1]
        time_left = max(0, window_end - now)
        carried = math.floor(previous * time_left / period)
        exceeded = (count + (1 if limited else 0)) + carried > limit
        retry_after = _seconds_until_allowed(limit=limit, count=count, previous=previous, time_left=time_left,
                                             period=period)
        windows.append(WindowUsage(period=period, limit=limit, used=count + carried, reset=window_end,
                                   exceeded=exceeded, retry_after=max(1, retry_after)))
    return RateLimitResult(group=group, windows=tuple(windows), read=read)


# What a Redis cache raises when it cannot be reached: django-redis wraps its calls; the limiter's
# own script goes to the client directly.
CACHE_UNAVAILABLE = (ConnectionInterrupted, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


_read_ahead_sources: list[Callable[[HttpRequest], Sequence[str]]] = []


def read_ahead_source_add(source: Callable[[HttpRequest], Sequence[str]]) -> None:
    """Have the limiter read the cache entries `source(request)` names in its round trip, for every request
    (an app hands the kit its source from its AppConfig.ready, so the kit imports no app)."""
    if source not in _read_ahead_sources:
        _read_ahead_sources.append(source)


class RateLimitMiddleware:
    """Rate limits and X-RateLimit-* headers for every path RATELIMIT_PATH_GROUPS names (/api/, /graphql/)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        group = rate_limit_group(request)
        # The cache entries the sources name (the API key's), and whatever the view will read, ride along
        # with the limiter's round trip; authentication and the view find them there (kit.cache).
        read_ahead = [key for source in _read_ahead_sources for key in source(request)]
        read_ahead += view_read_ahead(request) if group else []
        try:
            result = rate_limit_hit(request, group, read_ahead=read_ahead) if group else None
        except CACHE_UNAVAILABLE as err:
            # Limits guard the service; they are not worth refusing every call while the cache is
            # down (/health/ready says so). Served without limits, and logged.
            logger.warning("rate limits skipped: the cache is unavailable",
                           extra={"group": group, "error": type(err).__name__})
            result = None
        if result is not None and result.limited:
            metrics.rate_limited(group=group)
            binding = max((w for w in result.windows if w.exceeded), key=lambda w: w.retry_after)
            per = "minute" if binding.period == 60 else "hour"
            detail = f"Rate limit exceeded: {binding.limit} requests per {per}. Retry in {result.retry_after} s."
            headers = {"Retry-After": str(result.retry_after)}
            response: HttpResponse = (
                graphql_error_response(429, detail, code="RATE_LIMITED", headers=headers,
                                       retryAfter=result.retry_after)
                if request.path_info.startswith(GRAPHQL_PATH_PREFIX) else error_response(429, detail, headers=headers))
        else:
            with prefetched_values(result.read if result else {}):
                response = self.get_response(request)
        if result is not None:
            for name, value in result.headers().items():
                response[name] = value
        return response
