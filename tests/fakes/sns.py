"""A loopback fake of Amazon SNS's Query API: ``Action=Publish`` to a phone number, answered in XML.

It checks what the AWS SDK sends: a form-encoded POST to ``/`` with ``Version=2010-03-31``, signed
with SigV4 (an ``Authorization`` header whose credential scope names this fake's access key, region
and the ``sns`` service, with ``X-Amz-Date``), and answers as SNS does: ``PublishResponse`` with a
``MessageId``, or an ``ErrorResponse`` with a code.
"""

from __future__ import annotations

import re
import uuid
from xml.sax.saxutils import escape

from tests.fakes.base import Answer, FakeHTTPProvider, RecordedRequest

NAMESPACE = "http://sns.amazonaws.com/doc/2010-03-31/"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r" ?SignedHeaders=(?P<headers>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})$"
)


def sns_error(status: int, code: str, message: str, *, kind: str = "Sender") -> Answer:
    """An error answer in SNS's XML shape."""
    body = (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>{kind}</Type><Code>{escape(code)}</Code>'
            f"<Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    return Answer(status=status, body=body.encode(), headers={"content-type": "text/xml"})


class FakeSNS(FakeHTTPProvider):
    """SNS for SMS. Numbers in ``opted_out`` are refused as SNS refuses numbers that replied STOP."""

    backend = "notification_channels.sns.SNSSMSProvider"

    def __init__(self, *, access_key_id: str = "AKIAFAKESNS000000000", region: str = "eu-west-1") -> None:
        super().__init__()
        self.access_key_id = access_key_id
        self.region = region
        self.opted_out: set[str] = set()
        self.message_ids: list[str] = []

    def provider_options(self, **extra: str) -> dict[str, str]:
        return {
            "region": self.region,
            "access_key_id": self.access_key_id,
            "secret_access_key": "fake-secret-access-key",
            "base_url": self.url,
            **extra,
        }

    def published(self) -> list[dict[str, str]]:
        """The form of every Publish received, signed or not."""
        return [request.form for request in self.requests if request.form.get("Action") == "Publish"]

    @staticmethod
    def attributes(form: dict[str, str]) -> dict[str, str]:
        """A Publish form's message attributes, by name (the Query API's ``entry.N`` encoding)."""
        names = {key.split(".")[2]: value for key, value in form.items()
                 if key.startswith("MessageAttributes.entry.") and key.endswith(".Name")}
        return {name: form.get(f"MessageAttributes.entry.{n}.Value.StringValue", "") for n, name in names.items()}

    def signature_problem(self, request: RecordedRequest) -> str | None:
        match = SIGV4.match(request.headers.get("authorization", ""))
        if match is None:
            return "the request is not signed with AWS Signature Version 4"
        if match["key"] != self.access_key_id:
            return f"the access key {match['key']} is not known"
        if (match["region"], match["service"]) != (self.region, "sns"):
            return f"signed for {match['region']}/{match['service']}, not {self.region}/sns"
        if "x-amz-date" not in request.headers or not request.headers["x-amz-date"].startswith(match["date"]):
            return "X-Amz-Date is missing or does not match the credential scope"
        if "host" not in match["headers"].split(";"):
            return "the signature does not cover the Host header"
        return None

    def respond(self, request: RecordedRequest) -> Answer:
        problem = self.signature_problem(request)
        if problem:
            return sns_error(403, "SignatureDoesNotMatch" if "signed" in problem else "InvalidClientTokenId", problem)
        form = request.form
        if request.method != "POST" or request.path != "/" or form.get("Version") != "2010-03-31":
            return sns_error(400, "InvalidAction", "Could not find operation for this request")
        if form.get("Action") != "Publish":
            return sns_error(400, "InvalidAction", f"{form.get('Action')} is not supported by this fake")
        phone, text = form.get("PhoneNumber", ""), form.get("Message", "")
        if not text:
            return sns_error(400, "InvalidParameter", "Invalid parameter: Empty message")
        if not E164.match(phone):
            return sns_error(400, "InvalidParameter", f"Invalid parameter: PhoneNumber Reason: {phone} is not valid")
        if phone in self.opted_out:
            return sns_error(400, "InvalidParameter",
                             "Invalid parameter: PhoneNumber Reason: the phone number is opted out")
        message_id = str(uuid.uuid4())
        self.message_ids.append(message_id)
        body = (f'<PublishResponse xmlns="{NAMESPACE}"><PublishResult><MessageId>{message_id}</MessageId>'
                f"</PublishResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
                "</PublishResponse>")
        return Answer(status=200, body=body.encode(), headers={"content-type": "text/xml"})
