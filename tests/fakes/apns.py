"""A loopback fake of APNs (``POST /3/device/{token}``) over HTTP/2 cleartext."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import jwt

from tests.fakes.base import Answer, FakeHTTPProvider, RecordedRequest
from tests.fakes.keys import APNsKey

DEVICE_PATH = re.compile(r"^/3/device/(?P<token>[^/]+)$")
MAX_PAYLOAD_BYTES = 4096


def apns_error(status: int, reason: str) -> Answer:
    """An error answer in APNs' shape (410 adds the time the token became invalid, in ms)."""
    body: dict[str, Any] = {"reason": reason}
    if status == 410:
        body["timestamp"] = int(time.time() * 1000)
    return Answer(status=status, json=body, headers={"apns-id": str(uuid.uuid4()).upper()})


class FakeAPNs(FakeHTTPProvider):
    """Speaks HTTP/2 (prior knowledge) and checks the provider token with the key's public half.

    Checks: ES256 JWT with ``kid`` = key_id and ``iss`` = team_id, ``apns-topic``,
    a hex device token, payload size. Tokens in ``unregistered`` get 410 Unregistered.
    ``provider_options()`` gives ``APNsProvider`` OPTIONS pointing here.
    """

    protocol = "h2c"

    def __init__(self, *, key: APNsKey, topic: str = "com.example.notifications") -> None:
        super().__init__()
        self.key = key
        self.public_key = key.public_key
        self.team_id = key.team_id
        self.key_id = key.key_id
        self.topic = topic
        self.unregistered: set[str] = set()
        self.provider_tokens_seen: set[str] = set()

    def provider_options(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "key_id": self.key_id,
            "private_key": self.key.private_key_pem,
            "topic": self.topic,
            "base_url": self.url,
        }

    def respond(self, request: RecordedRequest) -> Answer:
        match = DEVICE_PATH.match(request.path)
        if request.method != "POST" or not match:
            return apns_error(404 if request.method == "POST" else 405, "BadPath" if request.method == "POST" else "MethodNotAllowed")
        authorization = request.headers.get("authorization", "")
        if not authorization.startswith("bearer "):
            return apns_error(403, "MissingProviderToken")
        provider_token = authorization.removeprefix("bearer ")
        try:
            header = jwt.get_unverified_header(provider_token)
            claims = jwt.decode(provider_token, self.public_key, algorithms=["ES256"], options={"require": ["iss", "iat"]})
        except jwt.PyJWTError:
            return apns_error(403, "InvalidProviderToken")
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            return apns_error(403, "InvalidProviderToken")
        if time.time() - claims["iat"] > 3600:
            return apns_error(403, "ExpiredProviderToken")
        with self._lock:
            self.provider_tokens_seen.add(provider_token)
        if request.headers.get("apns-topic") != self.topic:
            return apns_error(400, "DeviceTokenNotForTopic" if request.headers.get("apns-topic") else "MissingTopic")
        device_token = match["token"]
        if not re.fullmatch(r"(?:[0-9a-fA-F]{2}){32,100}", device_token):
            return apns_error(400, "BadDeviceToken")
        if device_token in self.unregistered:
            return apns_error(410, "Unregistered")
        if len(request.raw) > MAX_PAYLOAD_BYTES:
            return apns_error(413, "PayloadTooLarge")
        try:
            payload = request.json
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "aps" not in payload:
            return apns_error(400, "PayloadEmpty")
        return Answer(status=200, headers={"apns-id": request.headers.get("apns-id") or str(uuid.uuid4()).upper()})
