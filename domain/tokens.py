"""API tokens: random, shown once, stored as SHA-256 hex digests."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "bipa_"  # noqa: S105  (a public prefix that makes leaked tokens greppable)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
