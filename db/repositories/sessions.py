"""Delivery sessions: locking, visibility-filtered reads, keyset-paginated listings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    exists,
    false,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from db.enums import READONLY_SESSION_STATUSES, Role, SessionStatus
from db.models import DeliverySession, SessionDeliverer, SessionPackage
from db.repositories import keyset

# Built once: the hot path of every scan then skips SQLAlchemy's statement construction and
# cache-key walk (tens of microseconds per statement).
_LOCK = (
    select(DeliverySession)
    .where(DeliverySession.id == bindparam("session_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def visible_to(user_id: uuid.UUID, role: Role) -> ColumnElement[bool]:
    """ADMIN sees all; MANAGER their own; DELIVERER the sessions they take part in."""
    if role is Role.ADMIN:
        return true()
    if role is Role.MANAGER:
        return DeliverySession.owner_id == user_id
    if role is Role.DELIVERER:
        return exists().where(
            SessionDeliverer.session_id == DeliverySession.id, SessionDeliverer.user_id == user_id
        )
    return false()


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: DeliverySession) -> None:
        self.session.add(row)

    async def get(self, session_id: uuid.UUID) -> DeliverySession | None:
        return await self.session.get(DeliverySession, session_id)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[DeliverySession]:
        if not ids:
            return []
        return list(
            await self.session.scalars(select(DeliverySession).where(DeliverySession.id.in_(ids)))
        )

    async def last_sequences(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        if not ids:
            return {}
        stmt = select(DeliverySession.id, DeliverySession.last_sequence).where(
            DeliverySession.id.in_(ids)
        )
        return {sid: seq for sid, seq in await self.session.execute(stmt)}

    async def lock(self, session_id: uuid.UUID) -> DeliverySession | None:
        """SELECT ... FOR UPDATE: serializes every change under one session (and its audit)."""
        return (await self.session.scalars(_LOCK, {"session_id": session_id})).one_or_none()

    async def get_visible(
        self, session_id: uuid.UUID, user_id: uuid.UUID, role: Role
    ) -> DeliverySession | None:
        """The session with its owner joined (GraphQL nearly always asks for both)."""
        stmt = (
            select(DeliverySession)
            .options(joinedload(DeliverySession.owner))
            .where(DeliverySession.id == session_id, visible_to(user_id, role))
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def is_visible(self, session_id: uuid.UUID, user_id: uuid.UUID, role: Role) -> bool:
        stmt = select(DeliverySession.id).where(
            DeliverySession.id == session_id, visible_to(user_id, role)
        )
        return (await self.session.scalar(stmt)) is not None

    def _listing(
        self,
        user_id: uuid.UUID,
        role: Role,
        status: SessionStatus | None,
        owner_id: uuid.UUID | None,
    ) -> Select[tuple[DeliverySession]]:
        stmt = select(DeliverySession).where(visible_to(user_id, role))
        if status is None:
            stmt = stmt.where(DeliverySession.status != SessionStatus.ARCHIVED)
        else:
            stmt = stmt.where(DeliverySession.status == status)
        if owner_id is not None:
            stmt = stmt.where(DeliverySession.owner_id == owner_id)
        return stmt

    async def list_visible(
        self,
        user_id: uuid.UUID,
        role: Role,
        *,
        status: SessionStatus | None,
        owner_id: uuid.UUID | None,
        first: int,
        after: tuple[datetime, uuid.UUID] | None,
        before: tuple[datetime, uuid.UUID] | None = None,
        backward: bool = False,
    ) -> tuple[list[DeliverySession], int]:
        """Newest first: first + 1 rows in the order read (keyset.page), and the total."""
        base = self._listing(user_id, role, status, owner_id)
        total = await self.session.scalar(select(func.count()).select_from(base.subquery()))
        seek = keyset.Seek(first, after=after, before=before, backward=backward)
        stmt = keyset.page(
            base, (DeliverySession.created_at, DeliverySession.id), seek, descending=True
        )
        return list(await self.session.scalars(stmt)), int(total or 0)

    async def completed_before(self, moment: datetime, limit: int) -> list[uuid.UUID]:
        """Read-only sessions completed before `moment` that still hold recipient data."""
        holding = exists().where(
            SessionPackage.session_id == DeliverySession.id, SessionPackage.anonymized_at.is_(None)
        )
        stmt = (
            select(DeliverySession.id)
            .where(
                DeliverySession.status.in_(list(READONLY_SESSION_STATUSES)),
                DeliverySession.completed_at < moment,
                holding,
            )
            .order_by(DeliverySession.completed_at)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())
