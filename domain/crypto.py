"""Secrets at rest (AES-GCM) and webhook signatures (HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
_AAD = b"bipa-webhook-secret-v1"


class SecretBox:
    """Encrypts secrets with a server key (webhook secrets, and the new tokens an idempotent
    createUser answers again): the database never holds them in clear."""

    def __init__(self, key: bytes) -> None:
        # Any length of key material is accepted; the AES key is its SHA-256.
        self._aead = AESGCM(hashlib.sha256(key).digest())

    def encrypt(self, plaintext: str, context: bytes = _AAD) -> bytes:
        """`context` (authenticated, not stored) binds the blob to its use: a blob moved to
        another place, whose context differs, does not decrypt."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context)

    def decrypt(self, blob: bytes, context: bytes = _AAD) -> str:
        return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context).decode()


def new_webhook_secret() -> str:
    return "whsec_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`Bipa-Signature` header value: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (documented in the README); used by the tests as a receiver."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
