"""Push: FCM HTTP v1 with its OAuth token, APNs over HTTP/2 with its provider token, error mapping."""

from __future__ import annotations

import io
import json

import jwt
import pytest
from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import Channel, InvalidRecipient, Message, PermanentError, TransientError
from notification_channels.push import APNsProvider, ConsolePushProvider, FCMProvider
from tests.notification_channels.conftest import ANDROID_TOKEN, IOS_TOKEN
from tests.fakes.apns import FakeAPNs, apns_error
from tests.fakes.base import Answer
from tests.fakes.fcm import FakeFCM, fcm_error
from tests.fakes.keys import APNsKey, ServiceAccount, make_apns_key, make_service_account


def push(platform: str, to: str, **kwargs: object) -> Message:
    return Message(channel=Channel.PUSH, to=to, body="Your order shipped", subject="Order 42",
                   platform=platform, **kwargs)  # type: ignore[arg-type]


def android(**kwargs: object) -> Message:
    return push("android", ANDROID_TOKEN, **kwargs)


def ios(**kwargs: object) -> Message:
    return push("ios", IOS_TOKEN, **kwargs)


class TestFCM:
    def test_sends_the_v1_message(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        result = fcm.send(android(data={"order_id": "42"}))

        (send,) = fake_fcm.requests_to("messages:send")
        assert send.path == "/v1/projects/demo-project/messages:send"
        assert send.headers["authorization"] in {f"Bearer {token}" for token in fake_fcm.issued_tokens}
        assert send.json == {
            "message": {
                "token": ANDROID_TOKEN,
                "notification": {"title": "Order 42", "body": "Your order shipped"},
                "data": {"order_id": "42"},
            }
        }
        assert result.provider == "fcm"
        assert result.message_id.startswith("projects/demo-project/messages/")

    def test_token_assertion_is_a_signed_jwt_bearer_grant(
        self, fcm: FCMProvider, fake_fcm: FakeFCM, service_account: ServiceAccount
    ) -> None:
        fcm.send(android())
        (token_request,) = fake_fcm.requests_to("/token")
        form = token_request.form
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = jwt.decode(form["assertion"], service_account.public_key, algorithms=["RS256"],
                            audience=fake_fcm.token_url)
        assert claims["iss"] == service_account.info["client_email"]
        assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
        assert claims["exp"] - claims["iat"] == 3600
        assert jwt.get_unverified_header(form["assertion"])["kid"] == service_account.info["private_key_id"]

    def test_access_token_is_fetched_once_for_two_sends(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        fcm.send(android())
        fcm.send(android())
        assert len(fake_fcm.requests_to("/token")) == 1
        assert len(fake_fcm.requests_to("messages:send")) == 2

    def test_access_token_is_refreshed_before_it_expires(self, service_account: ServiceAccount) -> None:
        # A token living under the early-refresh margin is never reused.
        with FakeFCM(account=service_account, token_lifetime=60) as fake:
            provider = FCMProvider(**fake.provider_options())
            provider.send(android())
            provider.send(android())
            provider.close()
            assert len(fake.requests_to("/token")) == 2

    def test_assertion_signed_with_another_key_is_refused(self, fake_fcm: FakeFCM) -> None:
        impostor = make_service_account()
        provider = FCMProvider(**{**fake_fcm.provider_options(), "service_account_info": {
            **impostor.info, "client_email": fake_fcm.client_email}})
        with pytest.raises(PermanentError, match="invalid_grant") as caught:
            provider.send(android())
        provider.close()
        assert caught.value.status == 400
        assert fake_fcm.requests_to("messages:send") == []

    @pytest.mark.parametrize(
        ("answer", "expected", "deactivate"),
        [
            (fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"), InvalidRecipient, True),
            (fcm_error(404, "NOT_FOUND", "Requested entity was not found."), InvalidRecipient, True),
            (fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"), InvalidRecipient, False),
        ],
    )
    def test_recipient_errors(
        self, fcm: FCMProvider, fake_fcm: FakeFCM, answer: Answer, expected: type, deactivate: bool
    ) -> None:
        fake_fcm.enqueue(answer, path="messages:send")
        with pytest.raises(expected) as caught:
            fcm.send(android())
        assert caught.value.deactivate is deactivate
        assert caught.value.provider == "fcm"

    def test_unregistered_token_at_the_fake(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        fake_fcm.unregistered.add(ANDROID_TOKEN)
        with pytest.raises(InvalidRecipient) as caught:
            fcm.send(android())
        assert (caught.value.status, caught.value.code, caught.value.deactivate) == (404, "UNREGISTERED", True)

    def test_invalid_argument_is_permanent(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        fake_fcm.enqueue(fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT"),
                         path="messages:send")
        with pytest.raises(PermanentError, match="Invalid value") as caught:
            fcm.send(android())
        assert not isinstance(caught.value, InvalidRecipient)
        assert caught.value.code == "INVALID_ARGUMENT"

    @pytest.mark.parametrize(
        ("status", "name"), [(503, "UNAVAILABLE"), (500, "INTERNAL"), (429, "QUOTA_EXCEEDED")]
    )
    def test_overload_is_transient(self, fcm: FCMProvider, fake_fcm: FakeFCM, status: int, name: str) -> None:
        error = fcm_error(status, "RESOURCE_EXHAUSTED" if status == 429 else name, "busy", name)
        fake_fcm.enqueue(Answer(status=error.status, json=error.json, headers={"Retry-After": "30"}),
                         path="messages:send")
        with pytest.raises(TransientError) as caught:
            fcm.send(android())
        assert (caught.value.code, caught.value.retry_after) == (name, 30.0)

    def test_rejected_access_token_is_refetched(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        fcm.send(android())
        fake_fcm.enqueue(fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."),
                         path="messages:send")
        with pytest.raises(TransientError, match="access token rejected"):
            fcm.send(android())
        fcm.send(android())
        assert len(fake_fcm.requests_to("/token")) == 2

    def test_unavailable_token_endpoint_is_transient(self, fcm: FCMProvider, fake_fcm: FakeFCM) -> None:
        fake_fcm.enqueue(Answer(status=503, json={"error": "backend_error"}), path="/token")
        with pytest.raises(TransientError):
            fcm.send(android())

    def test_service_account_file(self, tmp_path, service_account: ServiceAccount, fake_fcm: FakeFCM) -> None:
        path = tmp_path / "service-account.json"
        path.write_text(json.dumps(service_account.info))
        provider = FCMProvider(service_account_file=str(path), base_url=fake_fcm.url, token_url=fake_fcm.token_url)
        assert provider.send(android()).provider == "fcm"
        provider.close()

    @pytest.mark.parametrize(
        "options",
        [
            {},
            {"service_account_info": {"client_email": "x@y"}},
            {"service_account_info": {"client_email": "x@y", "private_key": "not a key", "project_id": "p"}},
            {"service_account_file": "/nonexistent/service-account.json"},
        ],
    )
    def test_bad_configuration_fails_when_built(self, options: dict) -> None:
        with pytest.raises(ImproperlyConfigured):
            FCMProvider(**options)

    def test_project_id_is_required(self, service_account: ServiceAccount) -> None:
        info = {key: value for key, value in service_account.info.items() if key != "project_id"}
        with pytest.raises(ImproperlyConfigured, match="project_id"):
            FCMProvider(service_account_info=info)


class TestAPNs:
    def test_sends_over_http2_with_apns_headers(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        result = apns.send(ios(data={"order_id": "42"}))

        (request,) = fake_apns.requests
        assert request.path == f"/3/device/{IOS_TOKEN}"
        assert request.headers["apns-topic"] == fake_apns.topic
        assert request.headers["apns-push-type"] == "alert"
        assert request.headers["apns-priority"] == "10"
        assert request.json == {"aps": {"alert": {"title": "Order 42", "body": "Your order shipped"}}, "order_id": "42"}
        assert result.provider == "apns"
        assert len(result.message_id) == 36  # the apns-id UUID the fake answered with

    def test_talks_http2(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        apns.send(ios())
        response = apns.client.post(f"{fake_apns.url}/3/device/{IOS_TOKEN}", content=b"{}")
        assert response.http_version == "HTTP/2"

    def test_provider_token_is_an_es256_jwt_and_reused(
        self, apns: APNsProvider, fake_apns: FakeAPNs, apns_key: APNsKey
    ) -> None:
        apns.send(ios())
        apns.send(ios())
        tokens = {request.headers["authorization"] for request in fake_apns.requests}
        assert len(tokens) == 1
        token = tokens.pop().removeprefix("bearer ")
        assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": apns_key.key_id, "typ": "JWT"}
        assert jwt.decode(token, apns_key.public_key, algorithms=["ES256"])["iss"] == apns_key.team_id

    def test_provider_token_is_renewed_after_its_lifetime(self, fake_apns: FakeAPNs) -> None:
        # ES256 signatures are randomised, so a re-signed token always differs.
        provider = APNsProvider(**fake_apns.provider_options(), token_lifetime=0)
        provider.send(ios())
        provider.send(ios())
        provider.close()
        assert len({request.headers["authorization"] for request in fake_apns.requests}) == 2

    def test_one_connection_serves_many_sends(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        for _ in range(5):
            apns.send(ios())
        assert fake_apns.open_connections == 1

    @pytest.mark.parametrize(
        ("status", "reason"), [(410, "Unregistered"), (400, "BadDeviceToken")]
    )
    def test_dead_tokens_are_deactivated(
        self, apns: APNsProvider, fake_apns: FakeAPNs, status: int, reason: str
    ) -> None:
        fake_apns.enqueue(apns_error(status, reason))
        with pytest.raises(InvalidRecipient) as caught:
            apns.send(ios())
        assert (caught.value.status, caught.value.code, caught.value.deactivate) == (status, reason, True)

    def test_unregistered_token_at_the_fake(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        fake_apns.unregistered.add(IOS_TOKEN)
        with pytest.raises(InvalidRecipient, match="Unregistered"):
            apns.send(ios())

    @pytest.mark.parametrize(("status", "reason"), [(429, "TooManyRequests"), (500, "InternalServerError"),
                                                    (503, "ServiceUnavailable")])
    def test_overload_is_transient(self, apns: APNsProvider, fake_apns: FakeAPNs, status: int, reason: str) -> None:
        fake_apns.enqueue(apns_error(status, reason))
        with pytest.raises(TransientError, match=reason) as caught:
            apns.send(ios())
        assert caught.value.status == status

    def test_wrong_topic_is_permanent(self, fake_apns: FakeAPNs) -> None:
        provider = APNsProvider(**{**fake_apns.provider_options(), "topic": "com.example.other"})
        with pytest.raises(InvalidRecipient) as caught:
            provider.send(ios())
        provider.close()
        assert (caught.value.code, caught.value.deactivate) == ("DeviceTokenNotForTopic", False)

    def test_token_signed_by_another_key_is_permanent(self, fake_apns: FakeAPNs) -> None:
        options = {**fake_apns.provider_options(), "private_key": make_apns_key().private_key_pem}
        provider = APNsProvider(**options)
        with pytest.raises(PermanentError) as caught:
            provider.send(ios())
        provider.close()
        assert (caught.value.status, caught.value.code) == (403, "InvalidProviderToken")

    def test_expired_provider_token_is_transient_and_renewed(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        apns.send(ios())
        fake_apns.enqueue(apns_error(403, "ExpiredProviderToken"))
        with pytest.raises(TransientError):
            apns.send(ios())
        assert apns._provider_token == ""

    def test_dropped_connection_is_transient(self, apns: APNsProvider, fake_apns: FakeAPNs) -> None:
        fake_apns.enqueue(Answer(drop=True))
        with pytest.raises(TransientError):
            apns.send(ios())
        assert apns.send(ios()).provider == "apns"

    def test_sandbox_url(self, apns_key: APNsKey) -> None:
        provider = APNsProvider(team_id=apns_key.team_id, key_id=apns_key.key_id, topic="com.example.app",
                                private_key=apns_key.private_key_pem, use_sandbox=True)
        assert provider.base_url == "https://api.sandbox.push.apple.com"

    @pytest.mark.parametrize(
        "options",
        [
            {"key_id": "K", "topic": "t", "private_key": "x"},
            {"team_id": "T", "key_id": "K", "topic": "t"},
            {"team_id": "T", "key_id": "K", "topic": "t", "private_key": "not a pem"},
            {"team_id": "T", "key_id": "K", "topic": "t", "private_key_file": "/nonexistent/AuthKey.p8"},
        ],
    )
    def test_bad_configuration_fails_when_built(self, options: dict) -> None:
        with pytest.raises(ImproperlyConfigured):
            APNsProvider(**options)

    def test_rsa_key_is_refused(self, service_account: ServiceAccount) -> None:
        with pytest.raises(ImproperlyConfigured, match="EllipticCurvePrivateKey"):
            APNsProvider(team_id="T", key_id="K", topic="t", private_key=service_account.info["private_key"])


def test_console_push_provider_serves_every_platform() -> None:
    stream = io.StringIO()
    provider = ConsolePushProvider(stream=stream, show_content=True)
    assert provider.serves(ios()) and provider.serves(android())
    result = provider.send(ios(reference="log-7"))
    assert f"Push to ios {IOS_TOKEN} [log-7]" in stream.getvalue()
    assert '"aps"' in stream.getvalue()
    assert result.provider == "console"
