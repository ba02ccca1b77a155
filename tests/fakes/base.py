"""The base of the loopback provider fakes: a server on 127.0.0.1, recorded requests and scripted answers.

A fake runs in a background thread on a free port. Each request is recorded in
``.requests``; its answer is the first queued ``Answer`` whose path matches, or
else the fake's own realistic behaviour (``respond``). HTTP/1.1 (keep-alive) and
HTTP/2 cleartext with prior knowledge (the ``h2`` library's server side) share
the same recording and scripting.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.exceptions


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received. ``headers`` keys are lower-case."""

    method: str
    path: str  # without the query string
    headers: Mapping[str, str]
    raw: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def body(self) -> Any:
        """The body parsed by content type: a dict for JSON or form data, else the text."""
        content_type = self.headers.get("content-type", "")
        if "json" in content_type:
            return self.json
        if "x-www-form-urlencoded" in content_type:
            return self.form
        return self.raw.decode(errors="replace")

    @property
    def json(self) -> Any:
        return json.loads(self.raw or b"null")

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Answer:
    """A scripted (or computed) answer. ``drop`` closes the connection without answering."""

    status: int = 200
    json: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay: float = 0.0
    drop: bool = False

    def payload(self) -> tuple[bytes, dict[str, str]]:
        headers = {key.lower(): value for key, value in self.headers.items()}
        if self.body is not None:
            return self.body, headers
        if self.json is not None:
            headers.setdefault("content-type", "application/json")
            return json.dumps(self.json).encode(), headers
        return b"", headers


class LoopbackFake:
    """Start/stop and context-manager protocol shared by every fake (HTTP and SMTP)."""

    host = "127.0.0.1"
    port = 0

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeHTTPProvider(LoopbackFake):
    """An HTTP fake: subclasses set ``protocol`` ("http/1.1" or "h2c") and implement ``respond``."""

    protocol = "http/1.1"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._script: deque[tuple[str | None, Answer]] = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """How many client connections are open now (keep-alive reuse shows as 1)."""
        return len(self._server.connections) if self._server is not None else 0

    # -- scripting -------------------------------------------------------------

    def enqueue(self, *answers: Answer, path: str | None = None) -> None:
        """Queue answers for the next requests whose path contains ``path`` (any path if None)."""
        with self._lock:
            self._script.extend((path, answer) for answer in answers)

    def requests_to(self, fragment: str) -> list[RecordedRequest]:
        """The recorded requests whose path contains ``fragment``."""
        with self._lock:
            return [request for request in self.requests if fragment in request.path]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def respond(self, request: RecordedRequest) -> Answer:
        """The fake's realistic answer when nothing is scripted."""
        raise NotImplementedError

    def answer_for(self, request: RecordedRequest) -> Answer:
        with self._lock:
            self.requests.append(request)
            scripted = next(
                (item for item in self._script if item[0] is None or item[0] in request.path), None
            )
            if scripted is not None:
                self._script.remove(scripted)
        answer = scripted[1] if scripted is not None else self.respond(request)
        if answer.delay:
            time.sleep(answer.delay)
        return answer

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        server_class = _H2Server if self.protocol == "h2c" else _HTTP1Server
        self._server = server_class(self)
        self.port = self._server.port
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def _record(method: str, target: str, headers: Mapping[str, str], raw: bytes) -> RecordedRequest:
    parts = urlsplit(target)
    return RecordedRequest(
        method=method.upper(),
        path=parts.path,
        headers={key.lower(): value for key, value in headers.items()},
        raw=raw,
        query=dict(parse_qsl(parts.query)),
    )


class _Server:
    port: int
    connections: set[socket.socket]

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class _QuietThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (a timeout test, a dropped connection) is not the fake's error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _HTTP1Server(_Server):
    """A threading HTTP/1.1 server with keep-alive (one thread per connection)."""

    def __init__(self, fake: FakeHTTPProvider) -> None:
        self.connections: set[socket.socket] = set()
        connections = self.connections

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                connections.add(self.connection)

            def finish(self) -> None:
                connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def handle_one(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:  # the sender died mid-request: a real server never hands on half a body
                    self.close_connection = True
                    return
                answer = fake.answer_for(_record(self.command, self.path, dict(self.headers), raw))
                if answer.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body, headers = answer.payload()
                self.send_response(answer.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass  # the test output is no place for an access log

        self.httpd = _QuietThreadingServer((fake.host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=2)


class _H2Server(_Server):
    """HTTP/2 over cleartext with prior knowledge (what httpx does with ``http1=False, http2=True``).

    One thread per connection; streams on a connection are answered in the order
    they complete, which is plenty for tests and a loopback benchmark.
    """

    def __init__(self, fake: FakeHTTPProvider) -> None:
        self.fake = fake
        self.listener = socket.create_server((fake.host, 0), backlog=128)
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.connections: set[socket.socket] = set()
        self.running = threading.Event()
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> None:
        self.running.set()
        self.thread.start()

    def stop(self) -> None:
        self.running.clear()
        self.thread.join(timeout=2)
        self.listener.close()
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _accept_loop(self) -> None:
        while self.running.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.connections.add(sock)
            threading.Thread(target=self._serve_connection, args=(sock,), daemon=True).start()

    def _serve_connection(self, sock: socket.socket) -> None:
        conn = h2.connection.H2Connection(
            config=h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        )
        conn.initiate_connection()
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        try:
            sock.sendall(conn.data_to_send())
            while True:
                data = sock.recv(65535)
                if not data:
                    return
                try:
                    events = conn.receive_data(data)
                except h2.exceptions.ProtocolError:
                    return
                for event in events:
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = (dict(event.headers), bytearray())
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        if not self._answer(conn, sock, event.stream_id, headers, bytes(body)):
                            return
                    elif isinstance(event, h2.events.ConnectionTerminated):
                        sock.sendall(conn.data_to_send())
                        return
                sock.sendall(conn.data_to_send())
        except OSError:
            return
        finally:
            self.connections.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()

    def _answer(self, conn: h2.connection.H2Connection, sock: socket.socket, stream_id: int,
                headers: dict[str, str], raw: bytes) -> bool:
        """Answer one stream; False when the answer is to drop the connection."""
        request = _record(
            headers.get(":method", "GET"),
            headers.get(":path", "/"),
            {key: value for key, value in headers.items() if not key.startswith(":")},
            raw,
        )
        answer = self.fake.answer_for(request)
        if answer.drop:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return False
        body, response_headers = answer.payload()
        conn.send_headers(
            stream_id,
            [(":status", str(answer.status)), ("content-length", str(len(body))), *response_headers.items()],
            end_stream=not body,
        )
        if body:
            conn.send_data(stream_id, body, end_stream=True)
        return True
