"""The admin: login throttling (django-axes), CSRF, security headers, and `check --deploy` in production."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db) -> User:
    return User.objects.create_superuser("operator", "op@example.com", "right-horse-battery-staple")


def login(client: Client, password: str, ip: str = "203.0.113.7") -> int:
    return client.post(LOGIN, {"username": "operator", "password": password}, REMOTE_ADDR=ip).status_code


def test_logins_are_throttled_after_the_failure_limit(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 3
    assert [login(client, "wrong") for _ in range(3)] == [200, 200, 429]
    # Locked: even the right password is refused from that address, for that username.
    assert login(client, "right-horse-battery-staple") == 429
    # Another address is not locked out (nobody can lock the operator out from afar).
    assert login(Client(), "right-horse-battery-staple", ip="198.51.100.8") == 302


def test_a_forged_forwarded_for_does_not_dodge_the_lockout(client, staff, settings):
    settings.AXES_FAILURE_LIMIT = 2
    codes = [client.post(LOGIN, {"username": "operator", "password": "wrong"}, REMOTE_ADDR="203.0.113.7",
                         HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(3)]
    assert codes == [200, 429, 429]


@pytest.mark.parametrize(("locked", "other"), [
    ("::ffff:203.0.113.7", "::ffff:198.51.100.9"),
    ("[::ffff:203.0.113.7]:50123", "198.51.100.9:50124"),
])
def test_ipv4_clients_written_as_ipv6_are_locked_out_one_by_one(client, staff, settings, locked, other):
    settings.AXES_FAILURE_LIMIT = 3
    assert [login(client, "wrong", ip=locked) for _ in range(3)] == [200, 200, 429]
    assert login(Client(), "right-horse-battery-staple", ip=other) == 302
    assert login(Client(), "right-horse-battery-staple", ip="203.0.113.7") == 429  # the same client


def test_admin_login_needs_a_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    response = client.post(LOGIN, {"username": "operator", "password": "right-horse-battery-staple"})
    assert response.status_code == 403


def test_admin_pages_carry_security_headers(client):
    response = client.get(LOGIN)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    session_cookie = Client().get(LOGIN).cookies.get("csrftoken")
    assert session_cookie is not None and session_cookie["secure"] and session_cookie["samesite"] == "Lax"


def test_check_deploy_passes_with_production_settings():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DEBUG"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "notifications_project.settings", "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "notify.example.com",
        "SECURE_SSL_REDIRECT": "true", "TRUST_X_FORWARDED_PROTO": "true",
        "SECURE_HSTS_SECONDS": "31536000", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true",
    })
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# Content-Security-Policy ----------------------------------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in response["Content-Security-Policy"].split("; ")}


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)


def test_admin_and_our_pages_carry_a_policy_without_inline_scripts(admin_client):
    from tests import factories

    template = factories.NotificationTemplateFactory(name="hello")
    kind = factories.NotificationKindFactory(key="order_shipped")
    pages = ["/admin/", "/admin/delivery/", "/admin/templates_app/notificationtemplate/",
             f"/admin/templates_app/notificationtemplate/{template.pk}/change/",
             "/admin/templates_app/notificationtemplate/add/", f"/admin/kinds_app/notificationkind/{kind.pk}/change/",
             "/admin/logs_app/notificationlog/", "/admin/apikeys_app/apikey/add/", "/api/docs/"]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"] and policy["object-src"] == ["'none'"], page
        assert policy["frame-ancestors"] == ["'none'"], page
        assert not INLINE_SCRIPT.search(response.content.decode()), page


def test_swagger_uis_script_is_served_from_our_origin(client):
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="(/api/docs/\?script=[^"]*)"', page)
    assert script, page
    assert client.get(script.group(1).replace("&amp;", "&")).status_code == 200


def test_graphiql_alone_may_run_its_inline_script(client):
    response = client.get("/graphql/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and b"graphiql" in response.content.lower()
    policy = _policy(response)
    assert policy["script-src"] == ["'self'", "'unsafe-inline'"]
    assert _policy(client.get(LOGIN))["script-src"] == ["'self'"]
