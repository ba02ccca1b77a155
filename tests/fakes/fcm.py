"""A loopback fake of Google's OAuth token endpoint and FCM HTTP v1 ``messages:send``."""

from __future__ import annotations

import re
import secrets
from typing import Any

import jwt

from tests.fakes.base import Answer, FakeHTTPProvider, RecordedRequest
from tests.fakes.keys import ServiceAccount

TOKEN_PATH = "/token"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def fcm_error(http_status: int, status: str, message: str, error_code: str | None = None) -> Answer:
    """An error answer in FCM v1's shape (``errorCode`` in details, as FCM sends it)."""
    error: dict[str, Any] = {"code": http_status, "message": message, "status": status}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return Answer(status=http_status, json={"error": error})


class FakeFCM(FakeHTTPProvider):
    """Verifies the service account's JWT assertion with its public key and issues bearer tokens.

    ``messages:send`` requires one of those tokens; tokens in ``unregistered`` get
    404 UNREGISTERED. ``provider_options()`` gives ``FCMProvider`` OPTIONS pointing here.
    """

    def __init__(self, *, account: ServiceAccount, token_lifetime: int = 3599) -> None:
        super().__init__()
        self.account = account
        self.public_key = account.public_key
        self.client_email = account.info["client_email"]
        self.project_id = account.info["project_id"]
        self.token_lifetime = token_lifetime
        self.issued_tokens: set[str] = set()
        self.unregistered: set[str] = set()

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    def provider_options(self) -> dict[str, Any]:
        return {"service_account_info": self.account.info, "base_url": self.url, "token_url": self.token_url}

    def respond(self, request: RecordedRequest) -> Answer:
        if request.path == TOKEN_PATH:
            return self._token(request)
        match = SEND_PATH.match(request.path)
        if request.method == "POST" and match:
            return self._send(request, match["project"])
        return fcm_error(404, "NOT_FOUND", f"Unknown path {request.path}")

    def _token(self, request: RecordedRequest) -> Answer:
        form = request.form
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Answer(status=400, json={"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.public_key,
                algorithms=["RS256"],
                audience=self.token_url,
                issuer=self.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.PyJWTError as err:
            return Answer(status=400, json={"error": "invalid_grant", "error_description": f"Invalid JWT: {err}"})
        if SCOPE not in str(claims.get("scope", "")).split():
            return Answer(status=400, json={"error": "invalid_scope", "error_description": "Missing scope"})
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued_tokens.add(token)
        return Answer(json={"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"})

    def _send(self, request: RecordedRequest, project: str) -> Answer:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued_tokens:
            return fcm_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if project != self.project_id:
            return fcm_error(403, "PERMISSION_DENIED", f"Permission denied on project {project}", "SENDER_ID_MISMATCH")
        try:
            message = request.json["message"]
            token = message["token"]
        except (ValueError, KeyError, TypeError):
            return fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", "INVALID_ARGUMENT")
        if any(not isinstance(value, str) for value in message.get("data", {}).values()):
            return fcm_error(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT")
        if token in self.unregistered:
            return fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED")
        return Answer(json={"name": f"projects/{project}/messages/0:{secrets.token_hex(8)}"})
