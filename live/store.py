"""The hub's reads: audit entries (the source of truth), last sequences, progress, audience.

Each read is a short transaction of its own, never one held by a listener.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any, cast

from sqlalchemy import bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry, DeliverySession
from db.repositories.audit import AuditRepository
from db.repositories.packages import PackageRepository
from db.repositories.sessions import SessionRepository, visible_to
from live.events import LiveEvent, Viewer

FETCH_BATCH = 500


class Store:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def entries(
        self, session_id: uuid.UUID, after: int, up_to: int | None
    ) -> list[LiveEvent]:
        """At most FETCH_BATCH entries after `after` (up to `up_to`), with the progress now."""
        async with self.sessionmaker() as session:
            rows = await AuditRepository(session).after_with_actors(
                session_id, after, up_to, FETCH_BATCH
            )
            progress = (
                (await PackageRepository(session).progress([session_id]))[session_id]
                if rows
                else {}
            )
        return [_live(row, progress) for row in rows]

    async def last_sequences(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        async with self.sessionmaker() as session:
            return await SessionRepository(session).last_sequences(ids)

    async def progress(self, session_id: uuid.UUID) -> dict[str, int]:
        async with self.sessionmaker() as session:
            return (await PackageRepository(session).progress([session_id]))[session_id]

    async def audience(self, session_id: uuid.UUID, viewers: Collection[Viewer]) -> set[Viewer]:
        """Which of `viewers` may see the session now: one statement per role among them.

        The rule is db's `visible_to`, applied to a column of candidate ids instead of one id,
        so a thousand dashboards cost one query, not a thousand.
        """
        by_role: dict[Any, list[uuid.UUID]] = {}
        for viewer in viewers:
            by_role.setdefault(viewer.role, []).append(viewer.user_id)
        visible: set[Viewer] = set()
        async with self.sessionmaker() as session:
            for role, ids in by_role.items():
                candidates = (
                    func.unnest(bindparam("ids", ids, type_=ARRAY(UUID(as_uuid=True))))
                    .table_valued("user_id")
                    .render_derived()
                )
                user_id = candidates.c.user_id
                stmt = (
                    select(user_id)
                    .select_from(DeliverySession)
                    .join(candidates, true())
                    .where(
                        DeliverySession.id == session_id,
                        visible_to(cast(uuid.UUID, user_id), role),
                    )
                )
                visible.update(Viewer(uid, role) for uid in await session.scalars(stmt))
        return visible


def _live(entry: AuditEntry, progress: dict[str, int]) -> LiveEvent:
    actor = entry.actor
    return LiveEvent(
        session_id=entry.session_id,
        sequence=entry.sequence,
        action=entry.action,
        actor_id=entry.actor_id,
        actor_name=actor.name if actor else None,
        actor_role=actor.role.value if actor else None,
        actor_telegram_id=actor.telegram_id if actor else None,
        actor_created_at=actor.created_at if actor else None,
        details=entry.details,
        created_at=entry.created_at,
        progress=progress,
    )
