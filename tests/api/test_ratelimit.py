"""Rate limits on the shared cache (the real Redis when REDIS_URL is set): headers, 429, sliding window."""

import time
import types

import django.core.cache.backends.base
import django.core.cache.backends.locmem
import django_ratelimit.core
import pytest
from django.test import RequestFactory

import kit.ratelimit
from kit.ratelimit import client_ip

pytestmark = pytest.mark.django_db

HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Window",
           "X-RateLimit-Limit-Minute", "X-RateLimit-Remaining-Minute", "X-RateLimit-Limit-Hour",
           "X-RateLimit-Remaining-Hour")


@pytest.fixture
def rates(settings):
    def set_rates(**groups: tuple[int, int]) -> None:
        settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES,
                                    **{group: {"minute": minute, "hour": hour}
                                       for group, (minute, hour) in groups.items()}}

    return set_rates


@pytest.fixture
def clock(monkeypatch):
    """A settable clock for the limiter, django-ratelimit and the local-memory cache's expiry (Redis keeps
    real time, but its keys outlive these tests' jumps anyway)."""
    fake = types.SimpleNamespace(now=float(int(time.time())))
    module = types.SimpleNamespace(time=lambda: fake.now)
    for target in (kit.ratelimit, django_ratelimit.core, django.core.cache.backends.base,
                   django.core.cache.backends.locmem):
        monkeypatch.setattr(target, "time", module)
    return fake


@pytest.mark.parametrize("path", ["/api/v1/templates/", "/api/v1/nothing/", "/api/docs/"])
def test_every_api_answer_carries_the_headers(api, anonymous, path):
    for client in (api, anonymous):
        response = client.get(path)
        assert all(name in response for name in HEADERS), (path, response.status_code)


def test_headers_count_down_per_minute_and_per_hour(api, rates):
    rates(read=(5, 50))
    first, second = api.get("/api/v1/templates/"), api.get("/api/v1/templates/")
    assert (first["X-RateLimit-Limit-Minute"], first["X-RateLimit-Limit-Hour"]) == ("5", "50")
    assert (first["X-RateLimit-Remaining-Minute"], second["X-RateLimit-Remaining-Minute"]) == ("4", "3")
    assert second["X-RateLimit-Remaining-Hour"] == "48"
    assert (second["X-RateLimit-Limit"], second["X-RateLimit-Remaining"], second["X-RateLimit-Window"]) == \
        ("5", "3", "60")
    assert 0 <= int(second["X-RateLimit-Reset"]) - int(time.time()) < 60


def test_past_the_minute_limit_is_429_with_retry_after(api, rates):
    rates(send=(2, 100))
    body = {"user_id": 1, "template_name": "nope"}
    statuses = [api.post("/api/v1/notifications/", body, format="json").status_code for _ in range(2)]
    refused = api.post("/api/v1/notifications/", body, format="json")
    assert statuses == [400, 400] and refused.status_code == 429
    assert refused.json()["status_code"] == 429 and "2 requests per minute" in refused.json()["detail"]
    # Two used of two: the next fits once half of them have slid out, 30 s into the next minute.
    assert 30 <= int(refused["Retry-After"]) <= 90
    assert refused["X-RateLimit-Remaining"] == "0" and refused["X-RateLimit-Window"] == "60"


def test_sending_is_limited_apart_from_reading(api, rates):
    rates(send=(1, 100))
    api.post("/api/v1/notifications/", {}, format="json")
    assert api.post("/api/v1/notifications/bulk/", {}, format="json").status_code == 429
    assert api.get("/api/v1/notifications/").status_code == 200


def test_past_the_hour_limit_is_429_for_the_hour(api, rates):
    rates(read=(100, 2))
    api.get("/api/v1/templates/"), api.get("/api/v1/templates/")
    refused = api.get("/api/v1/templates/")
    assert refused.status_code == 429 and refused["X-RateLimit-Window"] == "3600"
    assert "per hour" in refused.json()["detail"] and int(refused["Retry-After"]) > 60


def test_a_refused_request_is_not_counted(api, rates):
    rates(read=(1, 100))
    api.get("/api/v1/templates/")
    for _ in range(3):
        assert api.get("/api/v1/templates/").status_code == 429
    assert api.get("/api/v1/templates/")["X-RateLimit-Remaining-Hour"] == "99"


def test_limits_are_per_client_ip(api, rates):
    rates(read=(1, 100))
    assert api.get("/api/v1/templates/", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert api.get("/api/v1/templates/", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert api.get("/api/v1/templates/", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_the_previous_window_still_weighs_in_the_next(api, rates, clock):
    """10 requests fill a minute; 15 s into the next minute, 3/4 of them (7) still count."""
    rates(read=(10, 1000))
    for _ in range(10):
        last = api.get("/api/v1/templates/")
    assert last["X-RateLimit-Remaining-Minute"] == "0"
    assert api.get("/api/v1/templates/").status_code == 429
    clock.now = int(last["X-RateLimit-Reset"]) + 15
    answers = [api.get("/api/v1/templates/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["X-RateLimit-Remaining-Minute"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3]["Retry-After"] == "9"  # 36 s before the window ends, 6 of the old 10 still count
    clock.now += 40  # 55 s in: 10 * 5/60 of the old window (0 once rounded down) plus the 3 new ones
    assert api.get("/api/v1/templates/")["X-RateLimit-Remaining-Minute"] == "6"


def test_rate_limiting_can_be_switched_off(api, rates, settings):
    settings.RATELIMIT_ENABLE = False
    rates(read=(1, 1))
    assert [api.get("/api/v1/templates/").status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize("remote, forwarded, trusted, expected", [
    ("203.0.113.9", "198.51.100.1", [], "203.0.113.9"),
    ("10.0.0.5", "198.51.100.1", [], "10.0.0.5"),
    ("10.0.0.5", "198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
    ("10.0.0.5", "6.6.6.6, 198.51.100.1, 10.0.0.7", ["10.0.0.0/8"], "198.51.100.1"),
    ("10.0.0.5", "", ["10.0.0.0/8"], "10.0.0.5"),
    ("10.0.0.5", "garbage, 198.51.100.1", ["10.0.0.0/8"], "198.51.100.1"),
    ("203.0.113.9", "198.51.100.1", ["10.0.0.0/8"], "203.0.113.9"),
    ("2001:db8:1:2:3:4:5:6", "", [], "2001:db8:1:2::"),
])
def test_client_ip_trusts_forwarded_for_only_from_trusted_proxies(settings, remote, forwarded, trusted, expected):
    settings.RATELIMIT_TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/api/v1/templates/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_with_the_cache_down_the_api_serves_without_limits(make_client, settings, caplog):
    client = make_client()  # the key exists before the cache goes away; the database still answers
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                                   "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}}}
    response = client.get("/api/v1/templates/")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response
    assert "rate limits skipped: the cache is unavailable" in caplog.text


@pytest.fixture
def redis_cache():
    """The raw client of the shared cache, when it is Redis (the limiter's one-round-trip path)."""
    from django.core.cache import cache

    if not hasattr(cache, "client") or not hasattr(cache.client, "get_client"):
        pytest.skip("needs the Redis cache (REDIS_URL)")
    return cache.client.get_client(write=True)


def redis_trips(monkeypatch) -> list[str]:
    """Every round trip this process makes to Redis from now on: a command's name, or "pipeline" for a batch."""
    import redis

    trips: list[str] = []
    command, execute = redis.Redis.execute_command, redis.client.Pipeline.execute
    monkeypatch.setattr(redis.Redis, "execute_command",
                        lambda self, *args, **kwargs: trips.append(args[0]) or command(self, *args, **kwargs))
    monkeypatch.setattr(redis.client.Pipeline, "execute",
                        lambda self, *args, **kwargs: trips.append("pipeline") or execute(self, *args, **kwargs))
    return trips


def test_the_key_is_read_in_the_limiters_round_trip(api, redis_cache, monkeypatch):
    assert api.get("/api/v1/templates/").status_code == 200  # the key's entry is now cached
    trips = redis_trips(monkeypatch)
    response = api.get("/api/v1/templates/")
    assert response.status_code == 200 and "X-RateLimit-Remaining" in response
    assert trips == ["EVALSHA"]  # the limiter's script reads the key's entry too


def test_a_send_reads_the_cache_only_in_the_limiters_round_trip(api, template, redis_cache, monkeypatch):
    from tests import factories

    factories.UserPreferenceFactory(user_id=1001)
    send = {"user_id": 1001, "template_name": template.name, "context": {"first_name": "Ada", "code": "42"}}
    assert api.post("/api/v1/notifications/", send, format="json").status_code == 202  # caches the template
    trips = redis_trips(monkeypatch)
    response = api.post("/api/v1/notifications/", send, format="json")
    assert response.status_code == 202 and response.json()["subject"] == "Hello Ada"
    assert trips == ["EVALSHA"]  # limiter, key, template and preferences in one


def test_a_send_parses_its_body_once(api, template, monkeypatch):
    """The limiter reads the send's body for its read-ahead; the view gets that parse, not a second one."""
    import json

    from tests import factories

    factories.UserPreferenceFactory(user_id=1001)
    body = json.dumps({"user_id": 1001, "template_name": template.name, "context": {"first_name": "Ada", "code": "4"}})
    decoded: list[str] = []
    decode = json.JSONDecoder.decode
    monkeypatch.setattr(json.JSONDecoder, "decode", lambda self, text, *args, **kwargs: decoded.append(text)
                        or decode(self, text, *args, **kwargs))
    response = api.generic("POST", "/api/v1/notifications/", body, content_type="application/json")
    assert response.status_code == 202 and response.json()["subject"] == "Hello Ada"
    assert decoded.count(body) == 1


@pytest.mark.parametrize("body", ['{"user_id": 1001, "template_name": ', '["not", "an", "object"]', "user_id=1001"])
def test_a_body_the_send_refuses_is_refused_as_before(api, template, redis_cache, body):
    response = api.generic("POST", "/api/v1/notifications/", body, content_type="application/json")
    assert response.status_code == 400 and "X-RateLimit-Remaining" in response


def test_a_revoked_key_is_refused_although_its_entry_was_read_ahead(api):
    assert api.get("/api/v1/templates/").status_code == 200
    api.key.revoked = True
    api.key.save()
    assert api.get("/api/v1/templates/").status_code == 401


def test_the_limiter_reloads_its_script_after_redis_forgot_it(api, redis_cache):
    assert api.get("/api/v1/templates/").status_code == 200
    redis_cache.script_flush()
    response = api.get("/api/v1/templates/")
    assert response.status_code == 200 and "X-RateLimit-Remaining" in response


def test_an_undecodable_key_entry_is_read_again_by_authentication(api, redis_cache):
    from django.core.cache import cache

    from apikeys_app.services import api_key_cache_key

    assert api.get("/api/v1/templates/").status_code == 200
    entry = api_key_cache_key(api._credentials["HTTP_AUTHORIZATION"])
    redis_cache.set(cache.make_key(entry), b"\x80not a pickle")
    assert api.get("/api/v1/templates/").status_code == 200
