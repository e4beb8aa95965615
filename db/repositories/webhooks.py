"""Webhooks and the delivery outbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from db.enums import Role, WebhookDeliveryStatus
from db.models import DeliverySession, User, Webhook, WebhookDelivery
from db.repositories import keyset

# Built once: the hot path of every scan then skips SQLAlchemy's statement construction and
# cache-key walk (tens of microseconds per statement).
_SUBSCRIBED_FOR_SESSION = (
    select(Webhook)
    .join(User, User.id == Webhook.owner_id)
    .options(contains_eager(Webhook.owner))
    .where(
        Webhook.active,
        or_(
            Webhook.owner_id
            == select(DeliverySession.owner_id)
            .where(DeliverySession.id == bindparam("session_id"))
            .scalar_subquery(),
            User.role == Role.ADMIN,
        ),
    )
)


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Webhook | WebhookDelivery) -> None:
        self.session.add(row)

    async def delete(self, row: Webhook) -> None:
        await self.session.delete(row)

    async def get(self, webhook_id: uuid.UUID) -> Webhook | None:
        return await self.session.get(Webhook, webhook_id)

    async def lock(self, webhook_id: uuid.UUID) -> Webhook | None:
        stmt = select(Webhook).where(Webhook.id == webhook_id).with_for_update()
        return (
            await self.session.scalars(stmt.execution_options(populate_existing=True))
        ).one_or_none()

    async def visible(self, user_id: uuid.UUID, role: Role) -> list[Webhook]:
        stmt = select(Webhook).order_by(Webhook.created_at, Webhook.id)
        if role is not Role.ADMIN:
            stmt = stmt.where(Webhook.owner_id == user_id)
        return list(await self.session.scalars(stmt))

    async def subscribed(self, owner_ids: Sequence[uuid.UUID]) -> list[Webhook]:
        """Active webhooks that receive a session's events: its owner's and every admin's."""
        stmt = (
            select(Webhook)
            .join(User, User.id == Webhook.owner_id)
            .options(contains_eager(Webhook.owner))
            .where(Webhook.active, or_(Webhook.owner_id.in_(owner_ids), User.role == Role.ADMIN))
        )
        return list(await self.session.scalars(stmt))

    async def subscribed_for_session(self, session_id: uuid.UUID) -> list[Webhook]:
        """The same as `subscribed`, for the owner of one session, without loading it first."""
        return list(await self.session.scalars(_SUBSCRIBED_FOR_SESSION, {"session_id": session_id}))

    async def get_delivery(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id)

    async def lock_delivery(self, delivery_id: uuid.UUID) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
        return (
            await self.session.scalars(stmt.execution_options(populate_existing=True))
        ).one_or_none()

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Due PENDING deliveries of active webhooks; other workers skip the rows locked here."""
        stmt = (
            select(WebhookDelivery)
            .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
            .where(
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                Webhook.active,
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=WebhookDelivery, skip_locked=True)
        )
        return list(await self.session.scalars(stmt))

    async def deliveries(
        self,
        webhook_id: uuid.UUID,
        *,
        status: WebhookDeliveryStatus | None,
        first: int,
        after: tuple[datetime, uuid.UUID] | None,
        before: tuple[datetime, uuid.UUID] | None = None,
        backward: bool = False,
    ) -> tuple[list[WebhookDelivery], int]:
        """Newest first: first + 1 rows in the order read (keyset.page), and the total."""
        conditions = [WebhookDelivery.webhook_id == webhook_id]
        if status is not None:
            conditions.append(WebhookDelivery.status == status)
        total = await self.session.scalar(select(func.count()).where(*conditions))
        seek = keyset.Seek(first, after=after, before=before, backward=backward)
        stmt = keyset.page(
            select(WebhookDelivery).where(*conditions),
            (WebhookDelivery.created_at, WebhookDelivery.id),
            seek,
            descending=True,
        )
        rows = list(await self.session.scalars(stmt))
        return rows, int(total or 0)

    async def pending_count(self) -> int:
        """Deliveries waiting to be sent (the outbox backlog)."""
        stmt = (
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == WebhookDeliveryStatus.PENDING)
        )
        return int(await self.session.scalar(stmt) or 0)
