import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def origins(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]


def test_an_allowed_origin_may_read_the_answer_and_its_rate_limit_headers(api, origins):
    response = api.get("/api/v1/templates/", HTTP_ORIGIN="https://app.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "X-RateLimit-Remaining" in response["Access-Control-Expose-Headers"]


def test_a_preflight_allows_the_key_and_idempotency_headers(anonymous, origins):
    response = anonymous.options("/api/v1/notifications/", HTTP_ORIGIN="https://app.example.com",
                                 HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
                                 HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, idempotency-key")
    assert response.status_code == 200
    assert {"authorization", "idempotency-key"} <= set(response["Access-Control-Allow-Headers"].split(", "))


def test_other_origins_get_no_cors_headers(api, origins):
    response = api.get("/api/v1/templates/", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response
