"""Throwaway credentials for the fakes, generated in memory: no secrets on disk."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


def _pem(private_key: Any) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class ServiceAccount:
    """A Google service account: ``info`` is what its JSON key file holds."""

    info: dict[str, str]
    public_key: Any


@dataclass(frozen=True)
class APNsKey:
    """An APNs auth key (.p8, ES256) with its team and key ids."""

    private_key_pem: str
    public_key: Any
    team_id: str
    key_id: str


def make_service_account(project_id: str = "demo-project") -> ServiceAccount:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": _pem(private_key),
        "client_email": f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return ServiceAccount(info=info, public_key=private_key.public_key())


def make_apns_key() -> APNsKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    return APNsKey(
        private_key_pem=_pem(private_key),
        public_key=private_key.public_key(),
        team_id="TEAM" + secrets.token_hex(3).upper(),
        key_id="KEY" + secrets.token_hex(4).upper()[:7],
    )
