"""The transactional outbox: webhook deliveries written with the change they report."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from db.base import utcnow
from db.enums import Role, WebhookDeliveryStatus
from db.models import Webhook, WebhookDelivery
from db.repositories.audit import NewEntry
from db.repositories.webhooks import WebhookRepository


def _wants(webhook: Webhook, action: str) -> bool:
    return "*" in webhook.events or action in webhook.events


async def write_outbox(
    repo: WebhookRepository,
    entries: Sequence[NewEntry],
    owners: dict[uuid.UUID, uuid.UUID],
    prefetched: Sequence[Webhook] | None = None,
) -> int:
    """Deliveries for the audit entries of this transaction (called by the unit of work).

    `prefetched` are the subscribed webhooks read before the session row was locked, which
    keeps this query out of the locked section (a webhook created in those milliseconds
    starts with the next change).
    """
    if prefetched is None:
        webhooks = await repo.subscribed(sorted(set(owners.values())))
    else:
        webhooks = list(prefetched)
    if not webhooks:
        return 0
    count = 0
    now = utcnow()
    for entry in entries:
        owner = owners[entry.session_id]
        for webhook in webhooks:
            if not _wants(webhook, entry.action):
                continue
            if webhook.owner_id != owner and webhook.owner.role is not Role.ADMIN:
                continue
            delivery_id = uuid.uuid4()
            repo.add(
                WebhookDelivery(
                    id=delivery_id,
                    webhook_id=webhook.id,
                    event=entry.action,
                    session_id=entry.session_id,
                    sequence=entry.sequence,
                    payload={
                        "id": str(delivery_id),
                        "event": entry.action,
                        "sessionId": str(entry.session_id),
                        "sequence": entry.sequence,
                        "actorId": str(entry.actor_id) if entry.actor_id else None,
                        "createdAt": (entry.created_at or now).isoformat(),
                        "data": entry.details,
                    },
                    status=WebhookDeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            count += 1
    return count
