"""DNS rebinding: a delivery connects to the address it checked, never to one a second resolution gives, while
the Host header, TLS SNI and the certificate check stay on the endpoint's name (webhooks_app/transport.py)."""

import datetime as dt
import ipaddress
import socket
import ssl
from collections import deque

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.fakes.base import _HTTP1Server
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from webhooks_app import delivery
from webhooks_app.models import EventStatus, WebhookAttempt, WebhookEndpoint, WebhookEvent

from .test_delivery import send, sms  # noqa: F401 - sms: the autouse fixture of an SMS send to user 7

pytestmark = pytest.mark.django_db

NAME = "hooks.example.test"
PUBLIC = "93.184.215.14"
_real_getaddrinfo = socket.getaddrinfo
_real_create_connection = socket.create_connection


class Resolver:
    """Answers NAME with the scripted addresses, one lookup each (the last one again when they run out);
    every other name as the system does."""

    def __init__(self, *answers: str) -> None:
        self.answers = deque(answers)
        self.lookups = 0

    def __call__(self, host, port, *args, **kwargs):
        if host != NAME:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.lookups += 1
        address = self.answers.popleft() if len(self.answers) > 1 else self.answers[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]


@pytest.fixture
def connections(monkeypatch):
    """Records each (address, port) a socket is opened to; only loopback is reachable (the tests have no
    internet)."""
    opened = []

    def create_connection(address, *args, **kwargs):
        opened.append(address)
        try:
            reachable = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:  # a name: resolved by socket.create_connection itself
            reachable = True
        if not reachable:
            raise ConnectionRefusedError(f"{address[0]} is out of reach in the tests")
        return _real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return opened


def resolve(monkeypatch, *answers: str) -> Resolver:
    resolver = Resolver(*answers)
    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return resolver


@pytest.fixture
def by_name(endpoint, receiver):
    """The endpoint names the receiver by NAME (as if saved when the name answered a public address)."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"http://{NAME}:{receiver.port}/hooks/notifications")
    return endpoint


def test_a_name_answering_public_to_the_check_and_loopback_after_is_not_reached(
        by_name, receiver, settings, monkeypatch, connections, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    resolver = resolve(monkeypatch, PUBLIC, "127.0.0.1")
    send(django_capture_on_commit_callbacks)  # accepted, sent: two attempts
    assert receiver.requests == []
    # The connections went to the address checked, and no further.
    assert [address for address in connections if address[1] == receiver.port] == [(PUBLIC, receiver.port)]
    # Each new connection resolved once, and the next answer (loopback) was refused before any socket opened.
    attempts = list(WebhookAttempt.objects.order_by("id").values_list("status_code", "error"))
    assert attempts[0][0] is None and "ConnectError" in attempts[0][1]
    assert attempts[1] == (None, f"Not sent: {NAME} is (or resolves to) 127.0.0.1, which is not a public address "
                                 "(private, loopback, link-local or reserved).")
    assert resolver.lookups == 2
    assert WebhookEvent.objects.filter(status=EventStatus.PENDING).count() == 2


def test_the_request_keeps_the_name_in_its_host_header_and_resolves_once_per_connection(
        by_name, receiver, monkeypatch, connections, django_capture_on_commit_callbacks):
    resolve(monkeypatch, "127.0.0.1", "10.9.9.9")  # a second lookup would go elsewhere
    send(django_capture_on_commit_callbacks)
    assert len(receiver.verified) == 2 and not receiver.rejected
    assert {request.headers["host"] for request in receiver.requests} == {f"{NAME}:{receiver.port}"}
    assert [address for address in connections if address[1] == receiver.port] == [("127.0.0.1", receiver.port)]


# -- TLS: the certificate is checked against the name, which is also the SNI ------------------------------------


def _certificate(subject: str, issuer_key, issuer_name, key, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(hours=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class TLSAuthority:
    """A certificate authority of the test's own, and server contexts with certificates it signed."""

    def __init__(self, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test webhook CA")])
        self.cert = _certificate("Test webhook CA", self.key, self.name, self.key, ca=True)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode())
        return context

    def server_context(self, host: str, seen_sni: list) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(host, self.key, self.name, key, ca=False)
        cert_file, key_file = self.tmp_path / f"{host}.pem", self.tmp_path / f"{host}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda sock, server_name, ctx: seen_sni.append(server_name)
        return context


class TLSWebhookReceiver(FakeWebhookReceiver):
    """The verifying receiver behind TLS with the given server context."""

    def __init__(self, *, secret: str, context: ssl.SSLContext) -> None:
        super().__init__(secret=secret)
        self.context = context

    def start(self):
        self._server = _HTTP1Server(self)
        self._server.httpd.socket = self.context.wrap_socket(self._server.httpd.socket, server_side=True)
        self.port = self._server.port
        self._server.start()
        return self


@pytest.fixture
def trusted_client(tmp_path, monkeypatch):
    """Deliveries trust the test's certificate authority (and nothing else)."""
    authority = TLSAuthority(tmp_path)
    client = delivery.http_client_new(verify=authority.client_context())
    monkeypatch.setattr(delivery, "_client", client)
    yield authority
    client.close()


@pytest.mark.parametrize("certificate_for, verified", [(NAME, True), ("other.example.test", False)])
def test_tls_sends_the_name_as_sni_and_checks_the_certificate_against_it(
        endpoint, trusted_client, monkeypatch, connections, django_capture_on_commit_callbacks,
        certificate_for, verified):
    resolve(monkeypatch, "127.0.0.1")
    seen_sni: list[str] = []
    context = trusted_client.server_context(certificate_for, seen_sni)
    with TLSWebhookReceiver(secret=endpoint.secret, context=context) as receiver:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=f"https://{NAME}:{receiver.port}/hooks/notifications")
        send(django_capture_on_commit_callbacks)
    assert {address for address in connections if address[1] == receiver.port} == {("127.0.0.1", receiver.port)}
    assert set(seen_sni) == {NAME}
    if verified:
        assert len(receiver.verified) == 2
        assert {request.headers["host"] for request in receiver.requests} == {f"{NAME}:{receiver.port}"}
    else:
        assert receiver.requests == []
        errors = list(WebhookAttempt.objects.values_list("error", flat=True))
        assert len(errors) == 2 and all("CERTIFICATE_VERIFY_FAILED" in error for error in errors)


def test_a_delivery_cut_off_mid_body_is_not_handed_to_the_receiver():
    """A sender killed between its headers and its body (the reliability run SIGKILLs workers mid-delivery):
    like any real HTTP server, the receiver drops the connection instead of verifying half a body."""
    with FakeWebhookReceiver(secret="whsec_" + "A" * 32) as receiver:
        with socket.create_connection(("127.0.0.1", receiver.port)) as sock:
            sock.sendall(b"POST /hooks/notifications HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                         b"webhook-id: msg_1\r\nwebhook-timestamp: 1\r\nwebhook-signature: v1,AAAA\r\n\r\n{\"half\"")
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(1024) == b""  # closed without an answer
        assert receiver.rejected == [] and receiver.verified == []
