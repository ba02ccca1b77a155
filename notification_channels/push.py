"""The push channel: token and payload checks, FCM HTTP v1, APNs over HTTP/2, and a console provider.

httpx, PyJWT and cryptography are imported by the providers when they are built or call out, not with
this module: web processes check push messages here but deliver none (see notification_channels.http)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import (
    Channel,
    ChannelAdapter,
    ConsoleProvider,
    DeliveryResult,
    InvalidRecipient,
    Message,
    PermanentError,
    TransientError,
)
from notification_channels.http import HTTPProvider, parse_retry_after

if TYPE_CHECKING:
    import httpx

IOS = "ios"
ANDROID = "android"
PLATFORMS = (IOS, ANDROID)

# Both services refuse notifications whose payload is larger than this.
APNS_MAX_PAYLOAD_BYTES = 4096
FCM_MAX_PAYLOAD_BYTES = 4096

# APNs tokens are 32 bytes today, shown as 64 hex characters; Apple warns they may grow.
APNS_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2}){32,100}")
# FCM registration tokens are opaque, about 150-200 URL-safe characters with a ':' inside.
FCM_TOKEN = re.compile(r"[A-Za-z0-9_:.\-]{20,4096}")
TOKEN_RULES = {
    IOS: (APNS_TOKEN, "APNs device token must be 64 or more hexadecimal characters", "BadDeviceToken"),
    ANDROID: (FCM_TOKEN, "FCM registration token must be 20-4096 characters of letters, digits, '_', '-', ':' or '.'",
              "INVALID_ARGUMENT"),
}


def device_token_problem(platform: str, token: str) -> str | None:
    """Why `token` is not a device token of `platform` (ios: APNs, android: FCM); None if it is one."""
    pattern, problem, _code = TOKEN_RULES[platform]
    return None if pattern.fullmatch(token) else problem

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Fetch a new OAuth token this long before the old one expires, so no request carries a stale one.
FCM_TOKEN_EARLY_REFRESH = 300.0


def _compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def apns_payload(message: Message) -> dict[str, Any]:
    """The APNs JSON body: the alert under ``aps``, custom data beside it."""
    return {**message.data, "aps": {"alert": {"title": message.subject, "body": message.body}}}


def fcm_message(message: Message) -> dict[str, Any]:
    """The FCM v1 ``message`` object for one device token."""
    body: dict[str, Any] = {
        "token": message.to,
        "notification": {"title": message.subject, "body": message.body},
    }
    if message.data:
        body["data"] = dict(message.data)
    return body


class PushAdapter(ChannelAdapter):
    """Push: APNs serves "ios", FCM "android"; providers that serve every platform (console) stay in line."""

    channel = Channel.PUSH

    @classmethod
    def validate(cls, message: Message) -> None:
        super().validate(message)
        if message.platform not in PLATFORMS:
            raise PermanentError(
                f"push platform must be one of {', '.join(PLATFORMS)}, not {message.platform!r}"
            )
        if not (message.body or message.subject):
            raise PermanentError("push notification has neither a title nor a body")
        bad_keys = [key for key, value in message.data.items() if not isinstance(value, str)]
        if bad_keys:
            raise PermanentError(f"push data values must be strings: {', '.join(map(str, bad_keys))}")
        if problem := device_token_problem(message.platform, message.to):
            raise InvalidRecipient(problem, code=TOKEN_RULES[message.platform][2])
        if message.platform == IOS:
            size, limit, service = len(_compact_json(apns_payload(message))), APNS_MAX_PAYLOAD_BYTES, "APNs"
        else:
            size, limit, service = len(_compact_json(fcm_message(message))), FCM_MAX_PAYLOAD_BYTES, "FCM"
        if size > limit:
            raise PermanentError(f"push payload is {size} bytes, {service} allows {limit}")


def _load_private_key(pem: str, *, expected: str, owner: str) -> Any:
    """A PEM private key of the `expected` kind: "RSA" (FCM's service account) or "EC" (APNs' signing key)."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key_type = {"RSA": rsa.RSAPrivateKey, "EC": ec.EllipticCurvePrivateKey}[expected]
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as err:
        raise ImproperlyConfigured(f"{owner}: the private key is not a readable PEM key") from err
    if not isinstance(key, key_type):
        raise ImproperlyConfigured(f"{owner}: the private key is not a {key_type.__name__}")
    return key


class FCMProvider(HTTPProvider):
    """Firebase Cloud Messaging HTTP v1, authenticated with a service account's OAuth token."""

    name = "fcm"
    channel = Channel.PUSH
    platforms = frozenset({ANDROID})
    default_base_url = "https://fcm.googleapis.com"
    optional_options: ClassVar[Mapping[str, Any]] = {
        **HTTPProvider.optional_options,
        "service_account_info": None,
        "service_account_file": "",
        "project_id": "",
        "token_url": "https://oauth2.googleapis.com/token",
        "platforms": None,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        info = self._service_account(self.options)
        missing = [key for key in ("client_email", "private_key") if not info.get(key)]
        if missing:
            raise ImproperlyConfigured(
                f"FCMProvider: the service account lacks {', '.join(missing)}"
            )
        self.client_email: str = info["client_email"]
        self.private_key_id: str = info.get("private_key_id", "")
        self.private_key = _load_private_key(
            info["private_key"], expected="RSA", owner="FCMProvider"
        )
        self.project_id: str = self.options["project_id"] or info.get("project_id", "")
        if not self.project_id:
            raise ImproperlyConfigured("FCMProvider: set project_id (or use a service account that has one)")
        if self.options["platforms"]:
            # FCM can also reach iOS devices that registered through Firebase.
            self.platforms = frozenset(self.options["platforms"])  # type: ignore[misc]
        self.token_url: str = self.options["token_url"]
        self.send_url = f"{self.base_url}/v1/projects/{self.project_id}/messages:send"
        self._access_token = ""
        self._access_token_expires = 0.0
        self._token_lock = threading.Lock()

    @staticmethod
    def _service_account(options: Mapping[str, Any]) -> dict[str, Any]:
        if options["service_account_info"]:
            return dict(options["service_account_info"])
        if options["service_account_file"]:
            try:
                return json.loads(Path(options["service_account_file"]).read_text())
            except (OSError, ValueError) as err:
                raise ImproperlyConfigured(
                    f"FCMProvider: cannot read service_account_file: {err}"
                ) from err
        raise ImproperlyConfigured(
            "FCMProvider: set service_account_info or service_account_file"
        )

    def access_token(self) -> str:
        """A valid OAuth access token, fetched once and reused until shortly before it expires."""
        with self._token_lock:
            if self._access_token and time.monotonic() < self._access_token_expires:
                return self._access_token
            token, lifetime = self._fetch_access_token()
            self._access_token = token
            self._access_token_expires = time.monotonic() + max(0.0, lifetime - FCM_TOKEN_EARLY_REFRESH)
            return token

    def _forget_access_token(self) -> None:
        with self._token_lock:
            self._access_token = ""

    def _fetch_access_token(self) -> tuple[str, float]:
        import httpx
        import jwt

        now = int(time.time())
        assertion = jwt.encode(
            {"iss": self.client_email, "scope": FCM_SCOPE, "aud": self.token_url, "iat": now, "exp": now + 3600},
            self.private_key,
            algorithm="RS256",
            headers={"kid": self.private_key_id} if self.private_key_id else None,
        )
        try:
            response = self.client.post(
                self.token_url, data={"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
            )
        except httpx.HTTPError as err:
            raise TransientError(f"OAuth token request failed: {err}", provider=self.name) from err
        body = self.json_of(response)
        if not response.is_success:
            text = f"OAuth token refused: {body.get('error', '')} {body.get('error_description', '')}".strip()
            raise self.status_error(response, text, code=body.get("error"))
        if not body.get("access_token"):
            raise TransientError("OAuth token answer has no access_token", provider=self.name)
        return str(body["access_token"]), float(body.get("expires_in", 3600))

    def build_payload(self, message: Message) -> dict[str, Any]:
        return {"message": fcm_message(message)}

    def request_for(self, payload: dict[str, Any], message: Message) -> httpx.Request:
        return self.client.build_request(
            "POST",
            self.send_url,
            json=payload,
            headers={"Authorization": f"Bearer {self.access_token()}"},
        )

    def error_for(self, response: httpx.Response, message: Message) -> Exception:
        error = self.json_of(response).get("error") or {}
        if not isinstance(error, dict):
            error = {}
        # The FCM-specific errorCode (in details) is more precise than the generic status.
        code = next(
            (d["errorCode"] for d in error.get("details", []) if isinstance(d, dict) and d.get("errorCode")),
            error.get("status") or None,
        )
        text = str(error.get("message") or f"HTTP {response.status_code}")
        status = response.status_code
        if code in ("UNREGISTERED", "NOT_FOUND"):
            return InvalidRecipient(
                f"device token is no longer registered: {text}",
                provider=self.name, status=status, code=code, deactivate=True,
            )
        if code == "SENDER_ID_MISMATCH":
            return InvalidRecipient(
                f"device token belongs to another sender: {text}",
                provider=self.name, status=status, code=code,
            )
        if status == 401:
            # The access token was revoked or expired early: fetch a new one on the next try.
            self._forget_access_token()
            return TransientError(f"access token rejected: {text}", provider=self.name, status=status, code=code)
        if code in ("UNAVAILABLE", "INTERNAL", "QUOTA_EXCEEDED"):
            return TransientError(
                text, provider=self.name, status=status, code=code,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        return self.status_error(response, text, code=code)

    def parse_answer(self, answer: httpx.Response, message: Message) -> DeliveryResult:
        name = str(self.accepted_json(answer).get("name", ""))
        return DeliveryResult(provider=self.name, message_id=name)


class APNsProvider(HTTPProvider):
    """Apple Push Notification service over HTTP/2 with token (JWT, ES256) authentication."""

    name = "apns"
    channel = Channel.PUSH
    platforms = frozenset({IOS})
    http2 = True
    default_base_url = "https://api.push.apple.com"
    sandbox_base_url = "https://api.sandbox.push.apple.com"
    required_options = ("team_id", "key_id", "topic")
    optional_options: ClassVar[Mapping[str, Any]] = {
        **HTTPProvider.optional_options,
        "private_key": "",
        "private_key_file": "",
        "use_sandbox": False,
        "priority": 10,
        "push_type": "alert",
        # Apple rejects tokens older than an hour and throttles refreshes more often than every 20 minutes.
        "token_lifetime": 50 * 60,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["base_url"] and self.options["use_sandbox"]:
            self.base_url = self.sandbox_base_url
        pem = self.options["private_key"]
        if not pem and self.options["private_key_file"]:
            try:
                pem = Path(self.options["private_key_file"]).read_text()
            except OSError as err:
                raise ImproperlyConfigured(f"APNsProvider: cannot read private_key_file: {err}") from err
        if not pem:
            raise ImproperlyConfigured("APNsProvider: set private_key or private_key_file")
        self.signing_key = _load_private_key(pem, expected="EC", owner="APNsProvider")
        self.team_id: str = self.options["team_id"]
        self.key_id: str = self.options["key_id"]
        self.topic: str = self.options["topic"]
        self.token_lifetime = float(self.options["token_lifetime"])
        self._provider_token = ""
        self._provider_token_issued = 0.0
        self._token_lock = threading.Lock()

    def provider_token(self) -> str:
        """The signed provider token, reused for ``token_lifetime`` seconds."""
        with self._token_lock:
            if self._provider_token and time.monotonic() - self._provider_token_issued < self.token_lifetime:
                return self._provider_token
            import jwt

            self._provider_token = jwt.encode(
                {"iss": self.team_id, "iat": int(time.time())},
                self.signing_key,
                algorithm="ES256",
                headers={"kid": self.key_id},
            )
            self._provider_token_issued = time.monotonic()
            return self._provider_token

    def _forget_provider_token(self) -> None:
        with self._token_lock:
            self._provider_token = ""

    def build_payload(self, message: Message) -> bytes:
        return _compact_json(apns_payload(message))

    def request_for(self, payload: bytes, message: Message) -> httpx.Request:
        return self.client.build_request(
            "POST",
            f"{self.base_url}/3/device/{message.to}",
            content=payload,
            headers={
                "authorization": f"bearer {self.provider_token()}",
                "apns-topic": self.topic,
                "apns-push-type": str(self.options["push_type"]),
                "apns-priority": str(self.options["priority"]),
                "content-type": "application/json",
            },
        )

    def error_for(self, response: httpx.Response, message: Message) -> Exception:
        reason = self.json_of(response).get("reason") or None
        status = response.status_code
        text = str(reason or f"HTTP {status}")
        if status == 410 or reason in ("Unregistered", "BadDeviceToken"):
            return InvalidRecipient(
                f"device token rejected: {text}",
                provider=self.name, status=status, code=reason, deactivate=True,
            )
        if reason == "DeviceTokenNotForTopic":
            return InvalidRecipient(
                f"device token is for another app than {self.topic}",
                provider=self.name, status=status, code=reason,
            )
        if reason == "ExpiredProviderToken":
            self._forget_provider_token()
            return TransientError("provider token expired", provider=self.name, status=status, code=reason)
        return self.status_error(response, text, code=reason)

    def parse_answer(self, answer: httpx.Response, message: Message) -> DeliveryResult:
        return DeliveryResult(provider=self.name, message_id=answer.headers.get("apns-id", ""))


class ConsolePushProvider(ConsoleProvider):
    """Writes each push notification, as the platform would receive it, to a stream; serves every platform."""

    channel = Channel.PUSH

    def build_payload(self, message: Message) -> str:
        body = apns_payload(message) if message.platform == IOS else {"message": fcm_message(message)}
        reference = f" [{message.reference}]" if message.reference else ""
        return f"Push to {message.platform or 'device'} {message.to}{reference}\n{json.dumps(body, ensure_ascii=False)}"
