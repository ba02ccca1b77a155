"""API keys: hashed at rest, compared in constant time, cached, revoked at once even through a warm cache."""

import hashlib

import pytest
from django.core.cache import cache
from django.urls import reverse

from apikeys_app import services
from apikeys_app.models import APIKey
from apikeys_app.services import AuthenticationFailed, api_key_create, api_key_from_header, api_key_revoke
from tests import factories

pytestmark = pytest.mark.django_db

ME = "query { notificationTemplates { pagination { total } } }"


def rest_get(secret: str, client) -> int:
    return client.get("/api/v1/templates/", HTTP_AUTHORIZATION=f"Api-Key {secret}").status_code


def test_only_a_hash_of_the_key_is_stored():
    key, secret = api_key_create(name="billing")
    row = APIKey.objects.values().get(pk=key.pk)
    assert secret not in str(row)
    assert row["hashed_key"] == "sha512$$" + hashlib.sha512(secret.encode()).hexdigest()


def test_a_warm_key_is_checked_without_the_database(django_assert_num_queries):
    key, secret = api_key_create(name="billing")
    api_key_from_header(f"Api-Key {secret}")
    with django_assert_num_queries(0):
        assert api_key_from_header(f"Api-Key {secret}") == key


def test_a_made_up_key_is_refused_from_the_cache_after_its_first_try(django_assert_num_queries):
    """A flood of made-up keys reaches the database once per prefix, not once per request."""
    with pytest.raises(AuthenticationFailed, match="Invalid or revoked"):
        api_key_from_header("Api-Key nosuch.secret")
    with django_assert_num_queries(0), pytest.raises(AuthenticationFailed, match="Invalid or revoked"):
        api_key_from_header("Api-Key nosuch.other-secret")


def test_a_cached_key_still_needs_the_right_secret():
    _, secret = api_key_create(name="billing")
    api_key_from_header(f"Api-Key {secret}")
    prefix = secret.split(".")[0]
    with pytest.raises(AuthenticationFailed, match="Invalid or revoked"):
        api_key_from_header(f"Api-Key {prefix}.{'x' * 32}")


def test_secrets_are_compared_in_constant_time(monkeypatch):
    """Known and unknown prefixes alike go through hmac.compare_digest, so timing tells nothing."""
    compared = []
    real = services.hmac.compare_digest
    monkeypatch.setattr(services.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    _, secret = api_key_create(name="billing")
    for header in (f"Api-Key {secret}", f"Api-Key {secret[:-1]}!", "Api-Key nosuch.secret"):
        try:
            api_key_from_header(header)
        except AuthenticationFailed:
            pass
    assert len(compared) == 3


@pytest.mark.parametrize("change", ["revoke", "delete", "revoke_in_admin", "queryset_update", "queryset_delete"])
def test_a_change_is_effective_at_once_through_a_warm_cache(client, admin_client, make_client, graphql, change):
    key, secret = api_key_create(name="billing")
    assert rest_get(secret, client) == 200
    assert "errors" not in graphql(secret, ME)
    assert cache.get(services.api_key_cache_key(f"Api-Key {secret}")) is not None  # warm

    if change == "revoke":
        api_key_revoke(key=key)
    elif change == "delete":
        key.delete()
    elif change == "queryset_update":
        assert APIKey.objects.filter(name="billing").update(revoked=True) == 1
    elif change == "queryset_delete":
        APIKey.objects.filter(name="billing").delete()
    else:
        url = reverse("admin:apikeys_app_apikey_change", args=[key.pk])
        response = admin_client.post(url, {"name": "billing", "scopes": ["send", "read", "manage"], "revoked": "on"})
        assert response.status_code == 302, response.content

    assert rest_get(secret, client) == 401
    assert graphql(secret, ME)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_scope_removed_in_the_admin_is_gone_at_once(client, admin_client):
    key, secret = api_key_create(name="billing")
    assert rest_get(secret, client) == 200
    url = reverse("admin:apikeys_app_apikey_change", args=[key.pk])
    assert admin_client.post(url, {"name": "billing", "scopes": ["send"]}).status_code == 302
    assert rest_get(secret, client) == 403


# Scopes ----------------------------------------------------------------------------------------


@pytest.fixture
def send_only(db):
    factories.NotificationTemplateFactory(name="welcome")
    return api_key_create(name="sender", scopes=["send"])[1]


def test_a_send_only_key_cannot_read_logs_or_edit_templates_over_rest(client, send_only):
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {send_only}"}
    assert client.get("/api/v1/notifications/", **auth).status_code == 403
    assert client.get("/api/v1/templates/", **auth).status_code == 403
    response = client.post("/api/v1/templates/", {"name": "x", "type": "sms", "body": "hi"},
                           content_type="application/json", **auth)
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key lacks the 'manage' scope.", "status_code": 403}


@pytest.mark.parametrize("operation", [
    "query { userNotifications(userId: 1001) { pagination { total } } }",
    "query { notificationTemplates { pagination { total } } }",
    'mutation { createNotificationTemplate(input: {name: "x", type: SMS, body: "hi"}) { id } }',
    'mutation { deleteNotificationTemplate(id: 1) }',
])
def test_a_send_only_key_cannot_read_logs_or_edit_templates_over_graphql(graphql, send_only, operation):
    answer = graphql(send_only, operation)
    assert [error["extensions"]["code"] for error in answer["errors"]] == ["FORBIDDEN"]
    assert answer["data"] is None or not any(answer["data"].values())
