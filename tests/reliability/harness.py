"""The fault-injection harness: a throwaway broker, real Celery workers, the sweep as beat runs it,
counting provider fakes, a client that sends through the live REST API, and the accounting itself.

Everything runs on 127.0.0.1, bounded in count and time; every process started here is ended by
the fixture that started it, even when the test fails.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis
from django.db import connection, connections
from kombu import Connection

from logs_app.models import NotificationLog
from logs_app.pipeline.sweep import logs_sweep_due
from tests.fakes.base import Answer, RecordedRequest
from tests.fakes.twilio import FakeTwilio
from tests.conftest import broker_purge
from tests.workers import free_port, wait_for

FINAL = {"sent", "delivered", "failed", "bounced", "suppressed"}
INDEX = re.compile(r"#(\d+)\b")


# The broker -----------------------------------------------------------------------------------


class Broker:
    """A throwaway in-memory redis-server on a free loopback port, to stop and start at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        assert wait_for(lambda: self._pings(client), 10), "the throwaway redis-server did not start"

    @staticmethod
    def _pings(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """Gone at once, queued messages and all (it keeps nothing on disk)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


class RabbitMQBroker:
    """The RabbitMQ on 127.0.0.1:5672, reached through a TCP proxy of our own on a free loopback port: `stop`
    cuts every connection and refuses new ones, as a broker that vanished; `start` lets them through again.
    Unlike the throwaway Redis, the broker itself keeps what was queued (quorum queues are durable), so
    `start` empties the lanes' queues first: the run begins, and comes back, as empty as the Redis one."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        broker_purge(self.upstream)
        listener = socket.create_server(("127.0.0.1", self.port))
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        host, port = Connection(self.upstream).hostname, Connection(self.upstream).port or 5672
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection((host, port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close(), server.close()
                    return
                self._sockets |= {client, server}
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# The sweep, as beat runs it -------------------------------------------------------------------


class Sweeper(threading.Thread):
    """Runs logs_sweep_due every `interval` seconds in this process, as beat would schedule it."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.stopping, self.failures = interval, threading.Event(), 0

    def run(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                try:
                    logs_sweep_due()
                except Exception:  # a dropped database connection: beat would simply run it again
                    self.failures += 1
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


# Provider fakes that count what they accepted -------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    index: int
    status: int
    at: float  # monotonic, on arrival
    sid: str = ""


class CountingTwilio(FakeTwilio):
    """A Twilio fake that remembers, per notification index (`#123` in the body), every answer it gave."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts: list[Attempt] = []
        self._attempts_lock = threading.Lock()
        self._accepted = 0
        # Called with the number of messages taken so far, each time one is taken, before its answer goes back:
        # a fault injected there lands while the sender is waiting for that answer.
        self.on_accept: Callable[[int], None] | None = None

    def answer_for(self, request: RecordedRequest) -> Answer:
        arrived = time.monotonic()
        answer = super().answer_for(request)
        match = INDEX.search(request.form.get("Body", ""))
        if match:
            sid = (answer.json or {}).get("sid", "") if answer.status == 201 and not answer.drop else ""
            with self._attempts_lock:
                self.attempts.append(Attempt(int(match.group(1)), answer.status, arrived, sid))
                self._accepted += bool(sid)
                accepted = self._accepted
            if sid and self.on_accept is not None:
                self.on_accept(accepted)
        return answer

    def accepted(self) -> list[Attempt]:
        with self._attempts_lock:
            return [attempt for attempt in self.attempts if attempt.sid]


# Sending through the REST API -----------------------------------------------------------------


@dataclass
class Outcome:
    codes: list[int] = field(default_factory=list)
    log_id: int | None = None
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        # 202, or 200 for a retry whose earlier attempt had been accepted (same idempotency key).
        return self.log_id is not None


def send_all(*, base_url: str, api_key: str, run: str, count: int, recipient: Callable[[int], str],
             threads: int = 6, retry_for: float = 60.0, on_progress: Callable[[int], None] | None = None,
             extra: dict[str, Any] | None = None) -> dict[int, Outcome]:
    """POST `count` notifications (code `#i`) with idempotency keys; a 503 is retried, as a client would."""
    outcomes = {index: Outcome() for index in range(count)}
    done = Counter()
    lock = threading.Lock()

    def send(indexes: list[int]) -> None:
        with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Api-Key {api_key}"}) as client:
            for index in indexes:
                outcome, give_up = outcomes[index], time.monotonic() + retry_for
                while True:
                    response = client.post("/api/v1/notifications/", headers={"Idempotency-Key": f"{run}-{index}"},
                                           json={"user_id": 1001, "template_name": "acct_sms",
                                                 "context": {"code": f"#{index}"}, "recipient": recipient(index),
                                                 **(extra or {})})
                    outcome.codes.append(response.status_code)
                    if response.status_code in (200, 202):
                        outcome.log_id = response.json()["id"]
                        break
                    outcome.bodies.append(response.json())
                    if response.status_code != 503 or time.monotonic() > give_up:
                        break
                    time.sleep(0.2)
                with lock:
                    done["sent"] += 1
                    sent = done["sent"]
                if on_progress:
                    on_progress(sent)

    shares = [list(range(count))[start::threads] for start in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, shares))
    return outcomes


def settle(log_ids: list[int], timeout: float) -> bool:
    """Wait until none of the logs is pending (the workers and the sweep keep going meanwhile)."""
    def settled() -> bool:
        try:
            return not NotificationLog.objects.filter(pk__in=log_ids, status="pending").exists()
        except Exception:
            connection.close()
            return False

    return wait_for(settled, timeout, 0.5)


# The accounting -------------------------------------------------------------------------------


@dataclass
class Accounts:
    run: str
    requests: int
    accepted: int
    states: Counter
    provider_messages: int
    duplicates: dict[int, int]  # log id -> times the provider accepted it
    extra: str = ""

    def line(self) -> str:
        states = " ".join(f"{state}={self.states[state]}" for state in sorted(self.states))
        duplicates = (f"{len(self.duplicates)} (logs {sorted(self.duplicates)[:20]})" if self.duplicates else "0")
        return (f"[accounting] {self.run}: requests={self.requests} accepted={self.accepted} {states} "
                f"provider_messages={self.provider_messages} duplicates={duplicates}{self.extra}")


def account(*, run: str, outcomes: dict[int, Outcome], fakes: list[CountingTwilio],
            may_duplicate: Callable[[NotificationLog, list[Attempt]], bool] | None = None) -> Accounts:
    """Compare the answers the client got, the logs in the database and the provider's messages.

    Every accepted notification must be in the database, in a final state (a `failed` one with its
    error); no log may exist that the client was not told about; every `sent` log's message id must
    be one the provider gave; nothing marked failed was accepted by a provider; and a provider may
    hold a message twice only where `may_duplicate` says the log's worker died in between.
    """
    accepted = {index: outcome.log_id for index, outcome in outcomes.items() if outcome.accepted}
    unanswered = {index: outcome.codes for index, outcome in outcomes.items() if not outcome.accepted}
    assert not unanswered, f"requests never accepted: {dict(list(unanswered.items())[:10])}"

    logs = {log.pk: log for log in NotificationLog.objects.filter(idempotency_key__startswith=f"{run}-")}
    by_index = {int(log.idempotency_key.rsplit("-", 1)[1]): log for log in logs.values()}
    missing = sorted(set(accepted.values()) - set(logs))
    assert not missing, f"accepted but not in the database: {missing[:20]}"
    assert len(logs) == len(accepted), "logs exist that no client was told about"
    assert all(by_index[index].pk == log_id for index, log_id in accepted.items())

    pending = [log.pk for log in logs.values() if log.status not in FINAL]
    assert not pending, f"{len(pending)} accepted notifications never reached a final state: {pending[:20]}"
    silent = [log.pk for log in logs.values() if log.status == "failed" and not log.error_message]
    assert not silent, f"failed without an error: {silent[:20]}"

    deliveries: dict[int, list[Attempt]] = defaultdict(list)
    for fake in fakes:
        for attempt in fake.accepted():
            deliveries[attempt.index].append(attempt)
    for index, log in by_index.items():
        sids = {attempt.sid for attempt in deliveries.get(index, [])}
        if log.status in {"sent", "delivered"}:
            assert log.provider_message_id in sids, f"log {log.pk} is {log.status} but no provider has it"
        elif log.status == "failed":
            assert not sids, f"log {log.pk} is failed but the provider accepted it"
    unknown = set(deliveries) - set(by_index)
    assert not unknown, f"the provider got messages nobody accepted: {sorted(unknown)[:20]}"

    duplicates = {by_index[index].pk: len(attempts) for index, attempts in deliveries.items() if len(attempts) > 1}
    unexplained = [log_id for log_id in duplicates
                   if may_duplicate is None or not may_duplicate(logs[log_id], deliveries[by_index_key(logs[log_id])])]
    assert not unexplained, f"duplicates not explained by a killed worker: {unexplained[:20]}"
    return Accounts(run=run, requests=sum(len(outcome.codes) for outcome in outcomes.values()),
                    accepted=len(accepted), states=Counter(log.status for log in logs.values()),
                    provider_messages=sum(len(attempts) for attempts in deliveries.values()), duplicates=duplicates)


def by_index_key(log: NotificationLog) -> int:
    return int(log.idempotency_key.rsplit("-", 1)[1])


@contextlib.contextmanager
def closing_connections() -> Iterator[None]:
    """Threads of this process open their own database connections; close them when done."""
    try:
        yield
    finally:
        connections.close_all()
