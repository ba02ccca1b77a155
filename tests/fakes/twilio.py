"""A loopback fake of Twilio's Messages API (``POST /2010-04-01/Accounts/{sid}/Messages.json``)."""

from __future__ import annotations

import base64
import math
import re
import secrets
from email.utils import formatdate

from tests.fakes.base import Answer, FakeHTTPProvider, RecordedRequest

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def twilio_error(status: int, code: int, message: str) -> Answer:
    """An error answer in Twilio's shape."""
    return Answer(
        status=status,
        json={
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class FakeTwilio(FakeHTTPProvider):
    """Checks basic auth and the form fields, then answers 201 with a realistic message resource.

    Numbers in ``invalid_numbers`` get error 21211, as Twilio answers for numbers it cannot reach.
    """

    def __init__(self, *, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token") -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.invalid_numbers: set[str] = set()

    @property
    def messages_path(self) -> str:
        return f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"

    def provider_options(self, **extra: str) -> dict[str, str]:
        return {
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
            "from_number": "+15005550006",
            "base_url": self.url,
            **extra,
        }

    def respond(self, request: RecordedRequest) -> Answer:
        expected_auth = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("authorization") != expected_auth:
            return twilio_error(401, 20003, "Authenticate")
        if request.method != "POST" or request.path != self.messages_path:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if not E164.match(to) or to in self.invalid_numbers:
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        # A rough count (the real one depends on the encoding); realistic enough for a fake.
        segments = 1 if len(body) <= 160 else math.ceil(len(body) / 153)
        return Answer(
            status=201,
            json={
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": body,
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": form.get("MessagingServiceSid"),
                "num_media": "0",
                "num_segments": str(segments),
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                "to": to,
                "uri": f"{self.messages_path[:-5]}/{sid}.json",
            },
        )
