"""A loopback SMTP server (aiosmtpd) that records the mail it receives and can refuse on cue."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections import deque
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Self

from aiosmtpd.controller import Controller

from tests.fakes.base import LoopbackFake


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    peer: tuple[str, int]  # the client's address: one per SMTP connection


def _free_port(host: str) -> int:
    # aiosmtpd's Controller needs a concrete port (it connects to it to check the server is up).
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class FakeSMTP(LoopbackFake):
    """Accepts everything unless told otherwise.

    ``refuse[address] = "550 5.1.1 User unknown"`` refuses a recipient at RCPT;
    ``enqueue_data_reply("451 4.3.0 Try later")`` answers the next DATA with that reply.
    Point Django at it with ``EMAIL_HOST = fake.host`` / ``EMAIL_PORT = fake.port``
    or the provider's ``backend_options``.
    """

    def __init__(self) -> None:
        self.messages: list[ReceivedMail] = []
        self.refuse: dict[str, str] = {}
        self._data_replies: deque[str] = deque()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def enqueue_data_reply(self, *replies: str) -> None:
        with self._lock:
            self._data_replies.extend(replies)

    @property
    def connections(self) -> int:
        """How many distinct SMTP connections delivered mail."""
        return len({mail.peer for mail in self.messages})

    def provider_options(self) -> dict[str, Any]:
        """``DjangoMailProvider`` OPTIONS that send through this server with Django's SMTP backend."""
        return {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "backend_options": {"host": self.host, "port": self.port, "timeout": 5},
        }

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.refuse.clear()
            self._data_replies.clear()

    # aiosmtpd handler hooks

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.refuse.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._data_replies:
                return self._data_replies.popleft()
            message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
            self.messages.append(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message, tuple(session.peer)[:2]))
        return "250 Message accepted for delivery"

    def start(self) -> Self:
        self.port = _free_port(self.host)
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
