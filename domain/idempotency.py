"""Idempotent mutations: a retried request returns the first result and does nothing again."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from db.base import utcnow
from db.models import User
from domain.errors import IdempotencyConflict, ValidationFailed
from domain.uow import UnitOfWork

KEEP_FOR = timedelta(hours=48)  # at least the promised 24 h, with room for slow retries
MAX_KEY = 200


def request_hash(operation: str, payload: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"operation": operation, "input": payload},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def begin(
    uow: UnitOfWork, actor: User, key: str, operation: str, payload: dict[str, Any]
) -> dict[str, Any] | None:
    """Claims `key` in this transaction; returns the stored response when it is a replay."""
    if not key or len(key) > MAX_KEY:
        raise ValidationFailed(
            f"idempotencyKey must be 1 to {MAX_KEY} characters",
            field="idempotencyKey",
            code="IDEMPOTENCY_KEY_INVALID",
            params={"max": str(MAX_KEY)},
        )
    digest = request_hash(operation, payload)
    now = utcnow()
    row = await uow.idempotency.claim(actor.id, key, operation, digest, now + KEEP_FOR)
    if row is None:
        return None
    if row.expires_at < now:
        row.operation, row.request_hash, row.response = operation, digest, {}
        row.expires_at = now + KEEP_FOR
        return None
    if row.request_hash != digest:
        raise IdempotencyConflict()
    return dict(row.response)


async def remember(uow: UnitOfWork, actor: User, key: str, response: dict[str, Any]) -> None:
    await uow.idempotency.store_response(actor.id, key, response)


async def peek(uow: UnitOfWork, actor: User, key: str) -> dict[str, Any] | None:
    """The stored response of a committed, unexpired `key`, whatever its request."""
    row = await uow.idempotency.get(actor.id, key)
    if row is None or row.expires_at < utcnow():
        return None
    return dict(row.response)


async def purge_expired(uow: UnitOfWork) -> int:
    """Keys live 48 h (at least the promised 24 h); older ones are dropped."""
    return await uow.idempotency.purge_expired(utcnow())
