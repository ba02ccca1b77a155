import datetime as dt

import pytest
from django.utils import timezone

from apikeys_app.services import AuthenticationFailed, api_key_create, api_key_from_header, api_key_revoke

pytestmark = pytest.mark.django_db


def test_a_new_key_authenticates():
    key, secret = api_key_create(name="billing", scopes=["send"])
    assert api_key_from_header(f"Api-Key {secret}") == key


@pytest.mark.parametrize("header, reason", [
    (None, "Missing API key"), ("", "Missing API key"), ("Bearer abc", "Malformed"),
    ("Api-Key nope.nope", "Invalid or revoked"), ("Api-Key ", "Invalid or revoked"),
])
def test_bad_headers_are_refused_with_the_reason(header, reason):
    with pytest.raises(AuthenticationFailed, match=reason):
        api_key_from_header(header)


def test_a_revoked_key_is_refused_at_once():
    key, secret = api_key_create(name="billing")
    api_key_revoke(key=key)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        api_key_from_header(f"Api-Key {secret}")


def test_an_expired_key_is_refused():
    key, secret = api_key_create(name="billing")
    key.expiry_date = timezone.now() - dt.timedelta(minutes=1)
    key.save()
    with pytest.raises(AuthenticationFailed, match="expired"):
        api_key_from_header(f"Api-Key {secret}")


def test_a_tampered_key_with_a_real_prefix_is_refused():
    _, secret = api_key_create(name="billing")
    with pytest.raises(AuthenticationFailed):
        api_key_from_header(f"Api-Key {secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}")
