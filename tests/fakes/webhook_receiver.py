"""A loopback receiver of outbound webhooks that checks each delivery with the `standardwebhooks` library's
own `Webhook.verify`, as a calling service would: 204 when a signature verifies, 401 when none does."""

from __future__ import annotations

from collections import Counter
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from tests.fakes.base import Answer, FakeHTTPProvider, RecordedRequest


class FakeWebhookReceiver(FakeHTTPProvider):
    """Verifies with `secret`; ``verified`` holds (webhook-id, payload) of each delivery that verified, in
    the order they came (a retry of an event shows again with the same id), ``rejected`` the reasons of
    the others. Scripted answers (``enqueue``) are given without verifying."""

    path = "/hooks/notifications"

    def __init__(self, *, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.verified: list[tuple[str, Any]] = []
        self.rejected: list[str] = []

    @property
    def endpoint_url(self) -> str:
        return self.url + self.path

    def respond(self, request: RecordedRequest) -> Answer:
        if request.method != "POST" or request.path != self.path:
            return Answer(status=404)
        try:
            payload = Webhook(self.secret).verify(request.raw, dict(request.headers))
        except WebhookVerificationError as err:
            self.rejected.append(str(err))
            return Answer(status=401, json={"error": str(err)})
        self.verified.append((request.headers["webhook-id"], payload))
        return Answer(status=204)

    def events(self) -> dict[str, Any]:
        """The verified deliveries once each by webhook-id (the receiver's de-duplication): id -> payload."""
        return dict(self.verified)

    def types_once(self) -> Counter[str]:
        """How many distinct events (by webhook-id) of each type verified."""
        return Counter(payload["type"] for payload in self.events().values())
