"""The append-only audit log: its reads, and the one write UnitOfWork.commit makes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from db.models import AuditEntry
from db.repositories.copy import copy_rows

# Compiled once: runs after every change to a session.
_BUMP = text(
    "UPDATE delivery_sessions SET last_sequence = :last_sequence, updated_at = :now"
    " WHERE id = :session_id"
)
_COLUMNS = ("session_id", "sequence", "action", "actor_id", "details", "created_at")


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An audit entry this transaction appends at commit: a plain value (an ORM object per
    entry cost a manifest import more CPU than the rest of its audit write)."""

    session_id: uuid.UUID
    sequence: int
    action: str
    actor_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: datetime


class AuditRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(
        self, session_id: uuid.UUID, entries: Sequence[NewEntry], now: datetime
    ) -> None:
        """Inserts `entries` (in sequence order, one COPY) and sets the session's
        last_sequence."""
        await copy_rows(
            self.session,
            "session_audit_log",
            _COLUMNS,
            [
                (session_id, e.sequence, e.action, e.actor_id, json.dumps(e.details), e.created_at)
                for e in entries
            ],
        )
        await self.session.execute(
            _BUMP, {"session_id": session_id, "last_sequence": entries[-1].sequence, "now": now}
        )

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

    async def before(
        self, session_id: uuid.UUID, before_sequence: int | None, limit: int
    ) -> list[AuditEntry]:
        """The `limit` entries just before `before_sequence` (None: the newest), oldest first."""
        stmt = select(AuditEntry).where(AuditEntry.session_id == session_id)
        if before_sequence is not None:
            stmt = stmt.where(AuditEntry.sequence < before_sequence)
        stmt = stmt.order_by(AuditEntry.sequence.desc()).limit(limit)
        return list(reversed(list(await self.session.scalars(stmt))))

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

    async def status_times(self, session_id: uuid.UUID, status: str) -> dict[uuid.UUID, datetime]:
        """When each package of the session last changed to `status` (the package rows keep
        only their delivery time; the log has every change)."""
        package = AuditEntry.details["packageId"].astext
        stmt = (
            select(package, func.max(AuditEntry.created_at))
            .where(
                AuditEntry.session_id == session_id,
                AuditEntry.action == "package.status_changed",
                AuditEntry.details["after"]["status"].astext == status,
            )
            .group_by(package)
        )
        return {uuid.UUID(pid): when for pid, when in await self.session.execute(stmt)}

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
