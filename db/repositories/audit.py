"""Reads of the append-only audit log (writes go through UnitOfWork.record)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from db.models import AuditEntry


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def after(
        self, session_id: uuid.UUID, after_sequence: int, limit: int
    ) -> list[AuditEntry]:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.session_id == session_id, AuditEntry.sequence > after_sequence)
            .order_by(AuditEntry.sequence)
            .limit(limit)
        )
        return list(await self.session.scalars(stmt))

    async def after_with_actors(
        self, session_id: uuid.UUID, after_sequence: int, up_to: int | None, limit: int
    ) -> list[AuditEntry]:
        """Entries after `after_sequence` (up to `up_to`), their actors joined: one statement."""
        stmt = (
            select(AuditEntry)
            .options(joinedload(AuditEntry.actor))
            .where(AuditEntry.session_id == session_id, AuditEntry.sequence > after_sequence)
            .order_by(AuditEntry.sequence)
            .limit(limit)
        )
        if up_to is not None:
            stmt = stmt.where(AuditEntry.sequence <= up_to)
        return list((await self.session.scalars(stmt)).unique())

    async def between(
        self, session_id: uuid.UUID, after_sequence: int, up_to: int
    ) -> list[AuditEntry]:
        stmt = (
            select(AuditEntry)
            .where(
                AuditEntry.session_id == session_id,
                AuditEntry.sequence > after_sequence,
                AuditEntry.sequence <= up_to,
            )
            .order_by(AuditEntry.sequence)
        )
        return list(await self.session.scalars(stmt))

    async def count(self, session_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(AuditEntry.session_id == session_id)
        return int(await self.session.scalar(stmt) or 0)

    async def sequences(self, session_id: uuid.UUID) -> Sequence[int]:
        stmt = (
            select(AuditEntry.sequence)
            .where(AuditEntry.session_id == session_id)
            .order_by(AuditEntry.sequence)
        )
        return list(await self.session.scalars(stmt))
