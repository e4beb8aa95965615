"""Background jobs (our rows; procrastinate's own tables are read only by the re-defer sweep)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from db.enums import ACTIVE_JOB_STATUSES, JobStatus
from db.models import DeliverySession, Job

# procrastinate's queue, as its schema (applied by our migration 0006) names it. Only the
# sweep below reads it: a QUEUED row of ours with no live procrastinate job lost its defer.
_NO_LIVE_DEFER = text(
    "NOT EXISTS (SELECT 1 FROM procrastinate_jobs p "
    "WHERE p.lock = 'job:' || jobs.id::text AND p.status IN ('todo', 'doing'))"
)


class JobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Job) -> None:
        self.session.add(row)

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return await self.session.get(Job, job_id, populate_existing=True)

    async def lock(self, job_id: uuid.UUID) -> Job | None:
        stmt = (
            select(Job)
            .where(Job.id == job_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[Job]:
        if not ids:
            return []
        return list((await self.session.scalars(select(Job).where(Job.id.in_(ids)))).all())

    async def active_for_work(self, work_hash: str) -> Job | None:
        stmt = select(Job).where(Job.work_hash == work_hash, Job.status.in_(ACTIVE_JOB_STATUSES))
        return (await self.session.scalars(stmt)).first()

    async def page(
        self,
        *,
        session_id: uuid.UUID | None,
        owner_id: uuid.UUID | None,
        statuses: Sequence[JobStatus] | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> list[Job]:
        """Newest first: of one session, of the sessions one manager owns, or (neither) all."""
        stmt = select(Job)
        if session_id is not None:
            stmt = stmt.where(Job.session_id == session_id)
        if owner_id is not None:
            stmt = stmt.join(DeliverySession, DeliverySession.id == Job.session_id).where(
                DeliverySession.owner_id == owner_id
            )
        if statuses:
            stmt = stmt.where(Job.status.in_(statuses))
        if after is not None:
            at, last_id = after
            stmt = stmt.where(
                or_(Job.created_at < at, and_(Job.created_at == at, Job.id < last_id))
            )
        stmt = stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def lost_defers(self, before: datetime, limit: int) -> list[Job]:
        """Active and unchanged since `before`, with no procrastinate job waiting or running
        for them (a crash between commit and defer; a job aborted by a shutdown)."""
        stmt = (
            select(Job)
            .where(
                Job.status.in_(ACTIVE_JOB_STATUSES),
                Job.updated_at < before,
                _NO_LIVE_DEFER,
            )
            .order_by(Job.updated_at)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def active_counts(self) -> dict[JobStatus, int]:
        """Jobs waiting for or held by a worker (the job queue's depth), by status."""
        stmt = (
            select(Job.status, func.count())
            .where(Job.status.in_(ACTIVE_JOB_STATUSES))
            .group_by(Job.status)
        )
        found = {status: int(n) for status, n in (await self.session.execute(stmt)).tuples()}
        return {status: found.get(status, 0) for status in ACTIVE_JOB_STATUSES}
