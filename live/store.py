"""The hub's reads: audit entries (the source of truth), last sequences, progress, audience.

Each read is a short transaction of its own, never one held by a listener.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import cast

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.enums import Role
from db.models import AuditEntry, DeliverySession
from db.repositories.audit import AuditRepository
from db.repositories.packages import PackageRepository
from db.repositories.sessions import SessionRepository, visible_to
from live.events import LiveEvent, Viewer

FETCH_BATCH = 500
_UUIDS = ARRAY(UUID(as_uuid=True))


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
        """Which of `viewers` may see the session now."""
        pairs = await self.visible([(viewer, session_id) for viewer in viewers])
        return {viewer for viewer, _ in pairs}

    async def visible(
        self, pairs: Collection[tuple[Viewer, uuid.UUID]]
    ) -> set[tuple[Viewer, uuid.UUID]]:
        """Which (viewer, session) pairs hold now: one statement per role among them.

        The rule is db's `visible_to`, applied to columns of candidate (user, session) pairs
        instead of one user, so a thousand dashboards cost one query, not a thousand.
        """
        by_role: dict[Role, list[tuple[uuid.UUID, uuid.UUID]]] = {}
        for viewer, session_id in pairs:
            by_role.setdefault(viewer.role, []).append((viewer.user_id, session_id))
        visible: set[tuple[Viewer, uuid.UUID]] = set()
        async with self.sessionmaker() as session:
            for role, candidates in by_role.items():
                table = (
                    func.unnest(
                        bindparam("users", [u for u, _ in candidates], type_=_UUIDS),
                        bindparam("sessions", [s for _, s in candidates], type_=_UUIDS),
                    )
                    .table_valued("user_id", "session_id")
                    .render_derived()
                )
                stmt = (
                    select(table.c.user_id, table.c.session_id)
                    .select_from(table)
                    .join(DeliverySession, DeliverySession.id == table.c.session_id)
                    .where(visible_to(cast(uuid.UUID, table.c.user_id), role))
                )
                for user_id, session_id in await session.execute(stmt):
                    visible.add((Viewer(user_id, role), session_id))
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
