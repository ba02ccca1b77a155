"""Managing endpoints (webhooks_app/services.py): one set of rules for REST, GraphQL and the admin."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook

from webhooks_app import services
from webhooks_app.models import EventType

pytestmark = pytest.mark.django_db

URL = "https://93.184.215.14/hooks"


def test_a_new_endpoint_has_a_standard_webhooks_secret():
    endpoint = services.endpoint_create(client="abc", url=URL)
    assert endpoint.secret.startswith("whsec_")
    Webhook(endpoint.secret)  # the library reads it
    assert endpoint.event_types == [] and endpoint.enabled and not endpoint.include_body
    assert services.endpoint_create(client="abc", url=URL).secret != endpoint.secret


@pytest.mark.parametrize(("changes", "field"), [
    ({"url": "https://10.0.0.1/x"}, "url"),
    ({"url": "http://93.184.215.14/x"}, "url"),
    ({"event_types": ["notification.exploded"]}, "event_types"),
])
def test_bad_input_names_the_field(changes, field):
    with pytest.raises(ValidationError) as caught:
        services.endpoint_create(client="abc", **{"url": URL, **changes})
    assert field in caught.value.message_dict
    endpoint = services.endpoint_create(client="abc", url=URL)
    with pytest.raises(ValidationError) as caught:
        services.endpoint_update(endpoint=endpoint, **changes)
    assert field in caught.value.message_dict


def test_event_types_are_kept_once_each_in_order():
    endpoint = services.endpoint_create(client="abc", url=URL,
                                        event_types=[EventType.SENT, EventType.FAILED, EventType.SENT])
    assert endpoint.event_types == ["notification.sent", "notification.failed"]
    assert endpoint.wants("notification.sent") and not endpoint.wants("notification.accepted")


def test_rotation_keeps_the_old_secret_signing_for_the_overlap():
    endpoint = services.endpoint_create(client="abc", url=URL)
    old = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=3600)
    assert endpoint.secret != old
    now = timezone.now()
    assert services.endpoint_signing_secrets(endpoint, now=now) == [endpoint.secret, old]
    assert services.endpoint_signing_secrets(endpoint, now=now + dt.timedelta(hours=2)) == [endpoint.secret]


def test_rotation_without_overlap_ends_the_old_secret_at_once():
    endpoint = services.endpoint_create(client="abc", url=URL)
    services.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=0)
    assert services.endpoint_signing_secrets(endpoint) == [endpoint.secret]
    with pytest.raises(ValidationError):
        services.endpoint_rotate_secret(endpoint=endpoint, overlap_seconds=-1)


def test_enabling_a_disabled_endpoint_forgets_its_failures():
    endpoint = services.endpoint_create(client="abc", url=URL)
    endpoint.enabled, endpoint.failing_since, endpoint.disabled_reason = False, timezone.now(), "failing for 5 days"
    endpoint.save()
    services.endpoint_update(endpoint=endpoint, enabled=True)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None and endpoint.disabled_reason == ""


@pytest.mark.parametrize(("changes", "field"), [({"description": "a\x00b"}, "description"),
                                                ({"url": URL + "\x00"}, "url")])
def test_null_characters_are_refused_by_name(changes, field):
    with pytest.raises(ValidationError) as caught:
        services.endpoint_create(client="abc", **{"url": URL, **changes})
    assert field in caught.value.message_dict
