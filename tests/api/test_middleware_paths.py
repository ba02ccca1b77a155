"""API paths take the short way through the middleware; the admin and the pages keep the whole stack."""

import pytest
from axes.middleware import AxesMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages_middleware_seen(monkeypatch) -> list[str]:
    """The sessions, CSRF and axes middleware, each time one handles a request from now on."""
    seen: list[str] = []
    for middleware in (SessionMiddleware, CsrfViewMiddleware):
        original = middleware.process_request
        monkeypatch.setattr(middleware, "process_request",
                            lambda self, request, original=original: seen.append(type(self).__name__) or original(self, request))
    original_call = AxesMiddleware.__call__
    monkeypatch.setattr(AxesMiddleware, "__call__",
                        lambda self, request: seen.append(type(self).__name__) or original_call(self, request))
    return seen


def test_api_paths_skip_the_pages_middleware(api, pages_middleware_seen, settings):
    settings.METRICS_TOKEN = "scrape"
    assert api.get("/api/v1/templates/").status_code == 200
    assert api.post("/graphql/", {"query": "{ __typename }"}, format="json").status_code == 200
    assert api.get("/health/live").status_code == 200
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape").status_code == 200
    assert pages_middleware_seen == []
    assert Client().get("/admin/login/").status_code == 200
    assert set(pages_middleware_seen) == {"SessionMiddleware", "CsrfViewMiddleware", "AxesMiddleware"}


def test_api_answers_keep_their_security_headers_limits_and_request_id(api):
    response = api.get("/api/v1/templates/", HTTP_X_REQUEST_ID="req-7")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Request-ID"] == "req-7"
    assert int(response["X-RateLimit-Remaining-Minute"]) >= 0
    assert "Set-Cookie" not in response and not response.cookies


def test_an_api_call_with_a_host_that_is_not_allowed_is_refused(api):
    assert api.get("/api/v1/templates/", HTTP_HOST="attacker.example").status_code == 400


def test_an_admin_session_does_not_authenticate_an_api_call(admin_client):
    response = admin_client.get("/api/v1/templates/")
    assert response.status_code == 401
    assert admin_client.get("/admin/").status_code == 200  # the same session still serves the admin


def test_the_shortcut_without_its_target_is_a_configuration_error(settings):
    settings.MIDDLEWARE = [name for name in settings.MIDDLEWARE if name != "kit.middleware.ApiShortcutTarget"]
    with pytest.raises(ImproperlyConfigured, match="ApiShortcutTarget"):
        Client().get("/health/live")


def test_api_answers_carry_the_policy_the_settings_make_and_a_changed_setting_at_once(api, settings):
    from csp.utils import build_policy

    assert api.get("/api/v1/templates/")["Content-Security-Policy"] == build_policy()
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"img-src": ["'self'"]},
                                                    "EXCLUDE_URL_PREFIXES": ["/health/"]}
    answer = api.get("/api/v1/templates/")
    assert answer["Content-Security-Policy"] == "default-src 'none'"
    assert answer["Content-Security-Policy-Report-Only"] == build_policy(report_only=True)
    assert "img-src 'self'" in answer["Content-Security-Policy-Report-Only"]
    probe = api.get("/health/live")
    assert probe["Content-Security-Policy"] == "default-src 'none'"
    assert "Content-Security-Policy-Report-Only" not in probe
