"""Idempotency keys: claimed in the mutation's own transaction, so they commit or vanish with it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import IdempotencyKey


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(
        self,
        user_id: uuid.UUID,
        key: str,
        operation: str,
        request_hash: str,
        expires_at: datetime,
    ) -> IdempotencyKey | None:
        """Insert the key, or return the row that already holds it.

        A concurrent request with the same key blocks on the INSERT until the first one
        commits (then it gets the stored row) or rolls back (then it claims the key itself).
        """
        stmt = (
            insert(IdempotencyKey)
            .values(
                user_id=user_id,
                key=key,
                operation=operation,
                request_hash=request_hash,
                response={},
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyKey.key)
        )
        if (await self.session.execute(stmt)).first() is not None:
            return None
        # Locked, so two retries that both find an expired key cannot both take it over.
        existing = (
            select(IdempotencyKey)
            .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(existing)).one()

    async def get(self, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (user_id, key))

    async def store_response(self, user_id: uuid.UUID, key: str, response: dict[str, Any]) -> None:
        row = await self.session.get(IdempotencyKey, (user_id, key))
        if row is None:
            raise RuntimeError("idempotency key vanished inside its own transaction")
        row.response = response

    async def purge_expired(self, now: datetime) -> int:
        result = await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.expires_at < now)
        )
        return int(getattr(result, "rowcount", 0) or 0)
