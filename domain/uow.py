"""The unit of work: one transaction, its repositories, its audit entries and its events.

Services never commit. The caller (a resolver, the bot, the CLI) opens a unit of work, calls
one service and commits; events are published only after the commit succeeded, so a
subscriber never sees what was rolled back.
"""

from __future__ import annotations

import logging
import uuid
from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import AuditEntry, DeliverySession, Webhook
from db.repositories.audit import AuditRepository
from db.repositories.idempotency import IdempotencyRepository
from db.repositories.packages import AddressRepository, DelivererRepository, PackageRepository
from db.repositories.sessions import SessionRepository
from db.repositories.users import UserRepository
from db.repositories.webhooks import WebhookRepository
from domain.events import CommittedEvent, EventPublisher, NullPublisher
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
        self._entries: list[AuditEntry] = []
        self._owners: dict[uuid.UUID, uuid.UUID] = {}
        self._hooks: dict[uuid.UUID, list[Webhook]] = {}
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessionmaker()
        session = self._session
        self.users = UserRepository(session)
        self.sessions = SessionRepository(session)
        self.packages = PackageRepository(session)
        self.addresses = AddressRepository(session)
        self.deliverers = DelivererRepository(session)
        self.audit = AuditRepository(session)
        self.idempotency = IdempotencyRepository(session)
        self.webhooks = WebhookRepository(session)
        return self

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
        finally:
            await session.close()
            self._session = None

    async def lock_session(self, session_id: uuid.UUID) -> DeliverySession | None:
        """SELECT ... FOR UPDATE of a session, after reading (unlocked) who subscribes to it."""
        if session_id not in self._hooks:
            self._hooks[session_id] = await self.webhooks.subscribed_for_session(session_id)
        return await self.sessions.lock(session_id)

    async def flush(self) -> None:
        await self.session.flush()

    def record(
        self,
        delivery_session: DeliverySession,
        action: str,
        actor_id: uuid.UUID | None,
        details: dict[str, Any],
    ) -> AuditEntry:
        """Append the next audit entry of a session whose row the caller holds locked."""
        delivery_session.last_sequence += 1
        entry = AuditEntry(
            session_id=delivery_session.id,
            sequence=delivery_session.last_sequence,
            action=action,
            actor_id=actor_id,
            details=details,
        )
        self.session.add(entry)
        self._entries.append(entry)
        self._owners[delivery_session.id] = delivery_session.owner_id
        self._events.append(
            CommittedEvent(delivery_session.id, delivery_session.last_sequence, action)
        )
        return entry

    async def commit(self) -> None:
        if self._entries:
            # The outbox: webhook deliveries commit (or vanish) with the change they report.
            await self.session.flush()
            prefetched = None
            if set(self._owners) <= set(self._hooks):
                prefetched = [h for sid in self._owners for h in self._hooks[sid]]
                prefetched = list({h.id: h for h in prefetched}.values())
            await write_outbox(self.webhooks, self._entries, self._owners, prefetched)
            self._entries = []
        await self.session.commit()
        events, self._events = self._events, []
        if events:
            try:
                await self._publisher.publish(events)
            except Exception:
                # At-most-once pub/sub: subscribers recover the entries from the audit table.
                log.exception("publishing committed events failed", extra={"events": len(events)})
