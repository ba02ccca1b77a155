import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("probe", ["startup", "live"])
def test_startup_and_live_answer_ok(client, probe):
    response = client.get(f"/health/{probe}")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_checks_database_and_cache(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "cache": "ok"}}


def test_ready_is_503_naming_an_unreachable_cache(client):
    unreachable = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0",
                               "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5}}}
    with override_settings(CACHES=unreachable):
        response = client.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["checks"]["cache"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
