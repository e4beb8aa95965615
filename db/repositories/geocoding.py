"""The geocoding cache (across sessions) and the addresses a geocoding run works on."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import GeocodeCache, SessionAddress


class GeocodeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def cached(self, keys: Sequence[str]) -> dict[str, GeocodeCache]:
        if not keys:
            return {}
        stmt = select(GeocodeCache).where(GeocodeCache.key.in_(keys))
        return {row.key: row for row in await self.session.scalars(stmt)}

    async def remember(self, rows: Sequence[dict[str, Any]]) -> None:
        """Upserts cache rows (key, latitude, longitude, precision, provider): the newest
        answer for a key wins."""
        if not rows:
            return
        stmt = insert(GeocodeCache).values(list(rows))
        stmt = stmt.on_conflict_do_update(
            index_elements=[GeocodeCache.key],
            set_={
                "latitude": stmt.excluded.latitude,
                "longitude": stmt.excluded.longitude,
                "precision": stmt.excluded.precision,
                "provider": stmt.excluded.provider,
                "updated_at": func.now(),
            },
        )
        await self.session.execute(stmt)

    async def unplaced(
        self, session_id: uuid.UUID, after: uuid.UUID | None, limit: int
    ) -> list[SessionAddress]:
        """The session's addresses without coordinates, by id after `after` (pages that do
        not shift while earlier ones get placed)."""
        stmt = select(SessionAddress).where(
            SessionAddress.session_id == session_id,
            SessionAddress.latitude.is_(None),
            SessionAddress.anonymized_at.is_(None),
        )
        if after is not None:
            stmt = stmt.where(SessionAddress.id > after)
        stmt = stmt.order_by(SessionAddress.id).limit(limit)
        return list(await self.session.scalars(stmt))

    async def count_unplaced(self, session_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            SessionAddress.session_id == session_id,
            SessionAddress.latitude.is_(None),
            SessionAddress.anonymized_at.is_(None),
        )
        return int(await self.session.scalar(stmt) or 0)
