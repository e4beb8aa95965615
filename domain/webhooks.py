"""Webhooks: owner-managed endpoints, the transactional outbox, and the retry policy."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.base import utcnow
from db.enums import WebhookDeliveryStatus
from db.models import User, Webhook, WebhookDelivery
from domain import permissions
from domain.actions import ALL, PING, Action
from domain.crypto import SecretBox, new_webhook_secret
from domain.errors import NotFound, ValidationFailed
from domain.uow import UnitOfWork
from domain.webhook_urls import Resolver, check_url

MAX_EVENTS = 50
EVENTS = frozenset(a.value for a in Action)


@dataclass(frozen=True)
class WebhookConfig:
    production: bool
    resolve: Resolver
    box: SecretBox


def _clean_events(events: Sequence[str]) -> list[str]:
    cleaned = sorted({e.strip() for e in events if e.strip()})
    if not cleaned:
        raise ValidationFailed(
            'events must name at least one audit action or "*"', field="events", code="NO_EVENTS"
        )
    if len(cleaned) > MAX_EVENTS:
        raise ValidationFailed(
            f"at most {MAX_EVENTS} events",
            field="events",
            code="TOO_MANY_EVENTS",
            params={"max": str(MAX_EVENTS)},
        )
    for event in cleaned:
        if event != ALL and event not in EVENTS:
            raise ValidationFailed(
                f'unknown event {event!r}: use audit actions like session.completed, or "*"',
                field="events",
                code="UNKNOWN_EVENT",
                params={"event": event[:64]},
            )
    return cleaned


async def _owned(uow: UnitOfWork, actor: User, webhook_id: uuid.UUID) -> Webhook:
    permissions.ensure_manager(actor)
    return permissions.ensure_owns_webhook(actor, await uow.webhooks.lock(webhook_id), webhook_id)


async def create_webhook(
    uow: UnitOfWork, actor: User, config: WebhookConfig, url: str, events: Sequence[str]
) -> tuple[Webhook, str]:
    permissions.ensure_manager(actor)
    checked = await check_url(url, production=config.production, resolve=config.resolve)
    secret = new_webhook_secret()
    webhook = Webhook(
        id=uuid.uuid4(),
        owner_id=actor.id,
        url=checked.url,
        events=_clean_events(events),
        active=True,
        failure_streak=0,
        secret_ciphertext=config.box.encrypt(secret),
    )
    uow.webhooks.add(webhook)
    await uow.flush()
    return webhook, secret


async def update_webhook(
    uow: UnitOfWork,
    actor: User,
    config: WebhookConfig,
    webhook_id: uuid.UUID,
    *,
    url: str | None,
    events: Sequence[str] | None,
    active: bool | None,
) -> Webhook:
    webhook = await _owned(uow, actor, webhook_id)
    if url is not None:
        webhook.url = (
            await check_url(url, production=config.production, resolve=config.resolve)
        ).url
    if events is not None:
        webhook.events = _clean_events(events)
    if active is not None:
        webhook.active = active
        if active:
            webhook.failure_streak = 0  # enabled again: the streak starts over
    await uow.flush()
    return webhook


async def delete_webhook(uow: UnitOfWork, actor: User, webhook_id: uuid.UUID) -> Webhook:
    webhook = await _owned(uow, actor, webhook_id)
    await uow.webhooks.delete(webhook)
    await uow.flush()
    return webhook


async def rotate_secret(
    uow: UnitOfWork, actor: User, config: WebhookConfig, webhook_id: uuid.UUID
) -> tuple[Webhook, str]:
    webhook = await _owned(uow, actor, webhook_id)
    secret = new_webhook_secret()
    webhook.secret_ciphertext = config.box.encrypt(secret)
    await uow.flush()
    return webhook, secret


async def test_webhook(uow: UnitOfWork, actor: User, webhook_id: uuid.UUID) -> WebhookDelivery:
    webhook = await _owned(uow, actor, webhook_id)
    delivery_id = uuid.uuid4()
    now = utcnow()
    delivery = WebhookDelivery(
        id=delivery_id,
        webhook_id=webhook.id,
        event=PING,
        payload={"id": str(delivery_id), "event": PING, "createdAt": now.isoformat(), "data": {}},
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    uow.webhooks.add(delivery)
    await uow.flush()
    return delivery


async def redeliver(uow: UnitOfWork, actor: User, delivery_id: uuid.UUID) -> WebhookDelivery:
    original = await uow.webhooks.get_delivery(delivery_id)
    if original is None:
        raise NotFound("delivery not found", id=str(delivery_id), code="DELIVERY_NOT_FOUND")
    await _owned(uow, actor, original.webhook_id)
    new_id = uuid.uuid4()
    now = utcnow()
    delivery = WebhookDelivery(
        id=new_id,
        webhook_id=original.webhook_id,
        event=original.event,
        session_id=original.session_id,
        sequence=original.sequence,
        payload={**original.payload, "id": str(new_id), "redeliveryOf": str(original.id)},
        status=WebhookDeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        redelivery_of=original.id,
    )
    uow.webhooks.add(delivery)
    await uow.flush()
    return delivery


async def claim(
    uow: UnitOfWork, now: datetime, lease: timedelta, limit: int
) -> list[WebhookDelivery]:
    """Takes due deliveries for one worker: the lease keeps others off while it sends.

    A worker that dies mid-delivery leaves the lease to expire; the delivery is sent again
    (at least once), and receivers drop duplicates by the Bipa-Delivery id.
    """
    rows = await uow.webhooks.claim_due(now, limit)
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + lease
    await uow.flush()
    return rows


# After the quick retries, the delay doubles up to this, with jitter, until `retry_for` ends.
MAX_RETRY_DELAY_S = 3600.0


def next_delay(
    attempts: int,
    backoff: Sequence[float],
    *,
    jitter: Callable[[], float] = random.random,
) -> float:
    """Seconds before attempt `attempts + 1`: the quick schedule first (2, 4, 8 s), then
    doubling from its last step, capped at an hour, each between half and all of it (jitter,
    so receivers coming back are not hit by every sender at the same second)."""
    if attempts <= len(backoff):
        return backoff[attempts - 1]
    last = backoff[-1] if backoff else 1.0
    ceiling = min(MAX_RETRY_DELAY_S, last * 2.0 ** (attempts - len(backoff)))
    return float(ceiling * (0.5 + 0.5 * jitter()))


async def record_attempt(
    uow: UnitOfWork,
    delivery_id: uuid.UUID,
    *,
    ok: bool,
    status_code: int | None,
    error: str | None,
    backoff: Sequence[float],
    disable_after: int,
    retry_for_s: float = 0.0,
) -> WebhookDelivery | None:
    """Settles or reschedules one attempt. A delivery is retried on the quick schedule, then
    with exponential backoff until `retry_for_s` after it was created (a receiver down for an
    hour still gets it), and only then FAILED. The last backoff step is cut short so that one
    attempt lands right at the end of the window: a delivery never fails before it ends."""
    delivery = await uow.webhooks.lock_delivery(delivery_id)
    if delivery is None or delivery.status is not WebhookDeliveryStatus.PENDING:
        return delivery  # deleted meanwhile, or already settled by another worker
    webhook = await uow.webhooks.lock(delivery.webhook_id)
    now = utcnow()
    delivery.last_status_code = status_code
    delivery.last_error = (error or "")[:500] or None
    delay = next_delay(delivery.attempts, backoff)
    quick = delivery.attempts <= len(backoff)
    deadline = delivery.created_at + timedelta(seconds=retry_for_s)
    within = now < deadline
    if ok:
        delivery.status = WebhookDeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if webhook is not None:
            webhook.failure_streak = 0
    elif quick:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    elif within:
        delivery.next_attempt_at = min(now + timedelta(seconds=delay), deadline)
    else:
        delivery.status = WebhookDeliveryStatus.FAILED
        delivery.next_attempt_at = None
        if webhook is not None and delivery.event != PING:
            webhook.failure_streak += 1
            if webhook.failure_streak >= disable_after:
                webhook.active = False
    await uow.flush()
    return delivery


def payload_bytes(delivery: WebhookDelivery) -> bytes:
    import json

    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True, default=str).encode()
