"""Amazon SNS for SMS: ``Publish`` to a phone number, signed (SigV4) and sent by the AWS SDK.

boto3 signs and sends; this module only says what to publish and what SNS's refusals mean:
throttling and server errors are worth another try (here or on the next provider), a number
SNS will not reach is the recipient's fault, and a spent budget or a wrong account stops the
message. botocore's own retries are off: retrying with backoff and failing over are the
pipeline's job, and a hidden retry would hold a worker past its lease.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    ConnectTimeoutError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from django.core.exceptions import ImproperlyConfigured

from notification_channels.base import (
    Channel,
    DeliveryResult,
    InvalidRecipient,
    Message,
    PermanentError,
    Provider,
    ProviderTimeout,
    TransientError,
)

SMS_TYPES = ("Transactional", "Promotional")

# Error codes SNS answers for "not now": its own throttle and its server-side failures.
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "KMSThrottling", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable",
})
# Refusals about the account or its credentials: no retry and no other number will help.
ACCOUNT_CODES = frozenset({
    "AuthorizationError", "InvalidClientTokenId", "SignatureDoesNotMatch", "AccessDenied",
    "AccessDeniedException", "UnrecognizedClientException", "ExpiredToken", "OptInRequired",
})


class SNSSMSProvider(Provider):
    """SMS through Amazon SNS's ``Publish`` with ``PhoneNumber`` (no topic).

    Credentials are the options ``access_key_id`` and ``secret_access_key`` (with ``session_token``
    for temporary ones), or, without them, boto3's own chain: environment, shared files, the
    instance or task role. ``sender_id`` and ``origination_number`` choose the sender where the
    destination country allows; ``sms_type`` is ``Transactional`` (the default: delivery first) or
    ``Promotional`` (cost first); ``max_price`` caps one message's price in USD.
    """

    name = "sns"
    channel = Channel.SMS
    required_options = ("region",)
    optional_options: ClassVar[Mapping[str, Any]] = {
        "access_key_id": "",
        "secret_access_key": "",
        "session_token": "",
        "sender_id": "",
        "origination_number": "",
        "sms_type": "Transactional",
        "max_price": "",
        "base_url": None,
        "timeout": 10.0,
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if bool(self.options["access_key_id"]) != bool(self.options["secret_access_key"]):
            raise ImproperlyConfigured("SNSSMSProvider: set access_key_id and secret_access_key together")
        if self.options["sms_type"] not in SMS_TYPES:
            raise ImproperlyConfigured(
                f"SNSSMSProvider: sms_type must be one of {', '.join(SMS_TYPES)}, not {self.options['sms_type']!r}"
            )
        self.timeout = float(self.options["timeout"])
        self._client: Any = None
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self.build_client()
        return self._client

    def build_client(self) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=self.options["access_key_id"] or None,
            aws_secret_access_key=self.options["secret_access_key"] or None,
            aws_session_token=self.options["session_token"] or None,
            region_name=self.options["region"],
        )
        config = Config(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=20,
        )
        return session.client("sns", endpoint_url=self.options["base_url"] or None, config=config)

    def open(self) -> None:
        self.client  # noqa: B018  (builds it: the service model, the signer and a connection pool)

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def build_payload(self, message: Message) -> dict[str, Any]:
        attributes = {"AWS.SNS.SMS.SMSType": self.options["sms_type"]}
        if self.options["sender_id"]:
            attributes["AWS.SNS.SMS.SenderID"] = self.options["sender_id"]
        if self.options["origination_number"]:
            attributes["AWS.MM.SMS.OriginationNumber"] = self.options["origination_number"]
        if self.options["max_price"]:
            attributes["AWS.SNS.SMS.MaxPrice"] = str(self.options["max_price"])
        return {
            "PhoneNumber": message.to,
            "Message": message.body,
            "MessageAttributes": {
                key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()
            },
        }

    def call(self, payload: dict[str, Any], message: Message) -> dict[str, Any]:
        try:
            return self.client.publish(**payload)
        except ClientError as err:
            raise self.error_for(err) from err
        except NoCredentialsError as err:
            raise PermanentError(f"no AWS credentials: {err}", provider=self.name) from err
        except (ConnectTimeoutError, ReadTimeoutError) as err:
            raise ProviderTimeout(f"SNS did not answer in {self.timeout:g}s: {err}", provider=self.name) from err
        except (ConnectionError, HTTPClientError) as err:
            raise TransientError(f"SNS unreachable: {err}", provider=self.name) from err
        except BotoCoreError as err:
            raise PermanentError(f"SNS request failed: {err}", provider=self.name) from err

    def error_for(self, err: ClientError) -> Exception:
        error = err.response.get("Error", {})
        code = str(error.get("Code") or "")
        text = str(error.get("Message") or code or "SNS refused the message")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        lowered = text.lower()
        if code in TRANSIENT_CODES or (isinstance(status, int) and status >= 500):
            return TransientError(f"{code}: {text}", provider=self.name, status=status, code=code)
        if "spend" in lowered and "limit" in lowered:
            return PermanentError(f"the account's SMS spend limit is reached: {text}",
                                  provider=self.name, status=status, code=code)
        if code in ACCOUNT_CODES:
            return PermanentError(f"{code}: {text}", provider=self.name, status=status, code=code)
        if code.startswith("InvalidParameter") and ("phone" in lowered or "opted out" in lowered):
            return InvalidRecipient(f"{code}: {text}", provider=self.name, status=status, code=code)
        return PermanentError(f"{code}: {text}", provider=self.name, status=status, code=code)

    def parse_answer(self, answer: dict[str, Any], message: Message) -> DeliveryResult:
        return DeliveryResult(provider=self.name, message_id=str(answer.get("MessageId", "")))
