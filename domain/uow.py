"""The unit of work: one transaction, its repositories, its audit entries and its events.

Services never commit. The command runner (domain/operations.py) opens a unit of work, calls
one service and commits; events are published only after the commit succeeded, so a
subscriber never sees what was rolled back. Front-ends open one only to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from db.base import utcnow
from db.models import DeliverySession, Webhook
from db.repositories.audit import AuditRepository, NewEntry
from db.repositories.geocoding import GeocodeRepository
from db.repositories.idempotency import IdempotencyRepository
from db.repositories.jobs import JobRepository
from db.repositories.packages import AddressRepository, DelivererRepository, PackageRepository
from db.repositories.proofs import ProofRepository
from db.repositories.sessions import SessionRepository
from db.repositories.users import UserRepository
from db.repositories.webhooks import WebhookRepository
from domain.events import CommittedEvent, EventPublisher, JobPublisher, NullPublisher
from domain.outbox import write_outbox

log = logging.getLogger("bipa.uow")


class UnitOfWork:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: EventPublisher | None = None,
        *,
        currency: str = "BRL",
    ) -> None:
        self._sessionmaker = sessionmaker
        self.currency = currency
        self._publisher: EventPublisher = publisher or NullPublisher()
        self._events: list[CommittedEvent] = []
        self._entries: list[NewEntry] = []
        self._owners: dict[uuid.UUID, uuid.UUID] = {}
        self._hooks: dict[uuid.UUID, list[Webhook]] = {}
        self._last_sequence: dict[uuid.UUID, int] = {}
        self._locked: dict[uuid.UUID, DeliverySession] = {}
        self._changed_jobs: set[uuid.UUID] = set()
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        self._bind(self._session)
        return self

    def _bind(self, session: AsyncSession) -> None:
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.packages = PackageRepository(session)
        self.addresses = AddressRepository(session)
        self.deliverers = DelivererRepository(session)
        self.audit = AuditRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.webhooks = WebhookRepository(session)
        self.proofs = ProofRepository(session)
        self.jobs = JobRepository(session)
        self.geocodes = GeocodeRepository(session)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            if exc_type is not None:
                await session.rollback()
            # An uncommitted transaction is dropped by close(); loaded objects stay readable.
            self._events.clear()
            self._entries.clear()
            self._changed_jobs.clear()
        finally:
            try:
                await session.close()
            finally:
                self._session = None
                self._locked.clear()

    async def lock_session(self, session_id: uuid.UUID) -> DeliverySession | None:
        """SELECT ... FOR UPDATE of a session, after reading (unlocked) who subscribes to it.

        Once locked, the row cannot change under this transaction, so later calls (several
        mutations sharing one transaction, gql/batching.py) reuse it without a round trip.
        """
        locked = self._locked.get(session_id)
        if locked is not None:
            return locked
        if session_id not in self._hooks:
            self._hooks[session_id] = await self.webhooks.subscribed_for_session(session_id)
        row = await self.sessions.lock(session_id)
        # The row was re-read from the database, which does not yet hold the sequence numbers
        # this unit of work has already handed out (they are written at commit).
        recorded = self._last_sequence.get(session_id)
        if row is not None and recorded is not None and recorded > row.last_sequence:
            set_committed_value(row, "last_sequence", recorded)
        if row is not None:
            self._locked[session_id] = row
        return row

    async def flush(self) -> None:
        await self.session.flush()

    def job_changed(self, job_id: uuid.UUID) -> None:
        """Signal after commit that a job's row changed (its progress subscribers re-read)."""
        self._changed_jobs.add(job_id)

    def record(
        self,
        delivery_session: DeliverySession,
        action: str,
        actor_id: uuid.UUID | None,
        details: dict[str, Any],
    ) -> NewEntry:
        """Append the next audit entry of a session whose row the caller holds locked.

        The entry and the new `last_sequence` are written together at commit (see
        `_write_audit`), so the ORM does not also UPDATE the session row for it.
        """
        return self.record_many(delivery_session, action, actor_id, [details])[0]

    def record_many(
        self,
        delivery_session: DeliverySession,
        action: str,
        actor_id: uuid.UUID | None,
        details: Sequence[dict[str, Any]],
    ) -> list[NewEntry]:
        """`record` of several entries of one action in a row (a manifest's batch): the
        session's sequence moves once (its ORM bookkeeping cost ~30 us per entry)."""
        first = delivery_session.last_sequence + 1
        now = utcnow()
        sid = delivery_session.id
        entries = [
            NewEntry(
                session_id=sid,
                sequence=first + i,
                action=action,
                actor_id=actor_id,
                details=d,
                created_at=now,
            )
            for i, d in enumerate(details)
        ]
        if not entries:
            return entries
        last = entries[-1].sequence
        set_committed_value(delivery_session, "last_sequence", last)
        self._last_sequence[sid] = last
        self._entries.extend(entries)
        self._owners[sid] = delivery_session.owner_id
        self._events.extend(CommittedEvent(sid, e.sequence, action) for e in entries)
        return entries

    async def _write_audit(self) -> None:
        """Per session, one COPY of the audit rows and one UPDATE of the session's last_sequence.

        Runs after the ORM flush, inside the session row lock the services took.
        """
        by_session: dict[uuid.UUID, list[NewEntry]] = {}
        for entry in self._entries:
            by_session.setdefault(entry.session_id, []).append(entry)
        now = utcnow()
        for session_id, entries in by_session.items():
            await self.audit.append(session_id, entries, now)

    async def commit(self) -> None:
        if self._entries:
            # Package and deliverer rows first: the database refuses changes to the children
            # of a session once it is COMPLETED, and the audit write touches the session row.
            await self.session.flush()
            await self._write_audit()
            # The outbox: webhook deliveries commit (or vanish) with the change they report.
            prefetched = None
            if set(self._owners) <= set(self._hooks):
                prefetched = [h for sid in self._owners for h in self._hooks[sid]]
                prefetched = list({h.id: h for h in prefetched}.values())
            await write_outbox(self.webhooks, self._entries, self._owners, prefetched)
            self._entries = []
            self._last_sequence.clear()
        # Row locks end with the transaction: a later lock_session must lock (and read) again.
        self._locked.clear()
        await self.session.commit()
        events, self._events = self._events, []
        jobs, self._changed_jobs = sorted(self._changed_jobs), set()
        if jobs and isinstance(self._publisher, JobPublisher):
            try:
                await self._publisher.publish_jobs(jobs)
            except Exception:
                # The row is the truth: a follower that misses this reads it on its next poll.
                log.exception("publishing job signals failed", extra={"jobs": len(jobs)})
        if events:
            try:
                await self._publisher.publish(events)
            except Exception:
                # At-most-once pub/sub: subscribers recover the entries from the audit table.
                log.exception("publishing committed events failed", extra={"events": len(events)})


class ReadSnapshot:
    """One read-only REPEATABLE READ transaction shared by every read of one query.

    A query's parts (the session, its progress, its packages, its deliverers) are read by
    several resolvers and loaders; each in a transaction of its own could see a different
    moment (progress saying 3 delivered beside a list showing 2). Here they all read the same
    snapshot, taken at the first read. Reads take turns on the one connection.
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        async with self._turn:
            if self._session is None:
                self._session = self._sessionmaker()
                await self._session.connection(
                    execution_options={
                        "isolation_level": "REPEATABLE READ",
                        "postgresql_readonly": True,
                    }
                )
            uow = UnitOfWork(self._sessionmaker)
            uow._session = self._session
            uow._bind(self._session)
            try:
                yield uow
            except BaseException:
                # graphql-core cancels the sibling resolvers of a failed non-null field, and a
                # read cancelled mid-statement leaves the connection unusable: drop it (a later
                # read starts a new snapshot) instead of failing every read after it.
                await self._discard()
                raise

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            try:
                await session.close()
            except Exception:
                await self._invalidate(session)

    async def _discard(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await self._invalidate(session)

    @staticmethod
    async def _invalidate(session: AsyncSession) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(session.invalidate())
