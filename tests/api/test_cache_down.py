"""The shared cache only speeds things up: with it unreachable, keys are checked, sends accepted and
changes seen, all from the database (kit.rowcache)."""

import pytest

from logs_app.models import NotificationLog
from preferences_app.services import preference_update
from templates_app.services import template_create

pytestmark = pytest.mark.django_db

UNREACHABLE = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                           "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}}}


def test_with_the_cache_down_a_send_is_accepted_from_the_database(make_client, settings, caplog):
    client = make_client()
    template_create(name="code_sms", type="sms", body="Your code is {{ code }}.")
    preference_update(user_id=7, phone_number="+4915112345678")
    settings.CACHES = UNREACHABLE

    response = client.post("/api/v1/notifications/", {"user_id": 7, "template_name": "code_sms",
                                                       "context": {"code": "42"}}, format="json")

    assert response.status_code == 202, response.content
    log = NotificationLog.objects.get(pk=response.json()["id"])
    assert (log.recipient, log.body) == ("+4915112345678", "Your code is 42.")
    assert "cache unavailable: reading from the database" in caplog.text


def test_with_the_cache_down_a_revoked_key_is_refused(make_client, settings):
    client = make_client()
    assert client.get("/api/v1/templates/").status_code == 200
    settings.CACHES = UNREACHABLE
    client.key.revoked = True
    client.key.save()  # the entry cannot be cleared; the database is read instead of it

    assert client.get("/api/v1/templates/").status_code == 401
