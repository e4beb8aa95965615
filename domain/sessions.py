"""Session lifecycle: create, reuse, start, pause, resume, complete, archive."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from db.base import utcnow
from db.enums import DeliveryStatus, SessionStatus
from db.models import DeliverySession, User
from domain import access
from domain.errors import InvalidTransition, ValidationFailed
from domain.money import format_amount
from domain.states import ensure_session_transition
from domain.uow import UnitOfWork
from domain.users import clean_name

CLOSED_REASON = "session closed"


def _move(
    uow: UnitOfWork, session: DeliverySession, actor: User, target: SessionStatus, action: str
) -> None:
    before = session.status
    ensure_session_transition(before, target)
    session.status = target
    uow.record(
        session,
        action,
        actor.id,
        {"before": {"status": before.value}, "after": {"status": target.value}},
    )


async def create_session(uow: UnitOfWork, actor: User, name: str) -> DeliverySession:
    access.ensure_manager(actor)
    session = DeliverySession(
        id=uuid.uuid4(),
        name=clean_name(name, "session name"),
        status=SessionStatus.OPEN,
        owner_id=actor.id,
        was_reused=False,
        reuse_count=0,
        last_sequence=0,
        created_at=utcnow(),
    )
    uow.sessions.add(session)
    uow.record(session, "session.created", actor.id, {"name": session.name, "status": "OPEN"})
    await uow.flush()
    return session


async def reuse_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    access.ensure_writable(session)
    if session.status is not SessionStatus.OPEN:
        raise InvalidTransition("session", session.status.value, SessionStatus.OPEN.value)
    session.was_reused = True
    session.reuse_count += 1
    uow.record(session, "session.reused", actor.id, {"reuseCount": session.reuse_count})
    await uow.flush()
    return session


async def start_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    access.ensure_writable(session)
    if session.status is not SessionStatus.OPEN:
        # PAUSED -> ACTIVE is resumeSession's move, not a start.
        raise InvalidTransition("session", session.status.value, SessionStatus.ACTIVE.value)
    if await uow.packages.count(session.id) == 0:
        raise ValidationFailed("a session needs at least one package to start", field="sessionId")
    _move(uow, session, actor, SessionStatus.ACTIVE, "session.started")
    session.started_at = utcnow()
    await uow.flush()
    return session


async def pause_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    access.ensure_writable(session)
    _move(uow, session, actor, SessionStatus.PAUSED, "session.paused")
    await uow.flush()
    return session


async def resume_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    access.ensure_writable(session)
    if session.status is not SessionStatus.PAUSED:
        raise InvalidTransition("session", session.status.value, SessionStatus.ACTIVE.value)
    _move(uow, session, actor, SessionStatus.ACTIVE, "session.resumed")
    await uow.flush()
    return session


async def archive_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    _move(uow, session, actor, SessionStatus.ARCHIVED, "session.archived")
    session.archived_at = utcnow()
    await uow.flush()
    return session


async def complete_session(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, force: bool
) -> DeliverySession:
    session = await access.lock_for_change(uow, actor, session_id)
    access.ensure_writable(session)
    ensure_session_transition(session.status, SessionStatus.COMPLETED)
    open_packages = await uow.packages.not_final(session.id)
    if open_packages and not force:
        raise InvalidTransition(
            "session", session.status.value, SessionStatus.COMPLETED.value
        ) from ValidationFailed(f"{len(open_packages)} packages are not delivered or failed yet")
    deliverers = {d.id: d for d in await uow.deliverers.for_session(session.id)}
    for package in open_packages:
        before = package.status
        package.status = DeliveryStatus.FAILED
        package.failure_reason = CLOSED_REASON
        deliverer = deliverers.get(package.deliverer_id) if package.deliverer_id else None
        if deliverer is not None:
            deliverer.packages_failed += 1
        uow.record(
            session,
            "package.status_changed",
            actor.id,
            {
                "packageId": str(package.id),
                "barcode": package.barcode,
                "before": {"status": before.value},
                "after": {"status": "FAILED"},
                "reason": CLOSED_REASON,
            },
        )
    await finish(uow, session, actor, forced=bool(open_packages))
    return session


async def finish(
    uow: UnitOfWork, session: DeliverySession, actor: User, *, forced: bool = False
) -> None:
    """Complete a session whose packages are all final, writing its financial snapshot.

    The package rows are flushed first: the database refuses changes to the packages of a
    COMPLETED session, so the session row must be the last thing written.
    """
    await uow.flush()
    deliverers = await uow.deliverers.for_session(session.id)
    users = {u.id: u for u in await uow.users.get_many([d.user_id for d in deliverers])}
    progress = (await uow.packages.progress([session.id]))[session.id]
    now = datetime.now(UTC)
    snapshot_deliverers: list[dict[str, Any]] = []
    total = sum((d.total_earned for d in deliverers), start=Decimal("0.00"))
    for d in deliverers:
        snapshot_deliverers.append(
            {
                "delivererId": str(d.id),
                "userId": str(d.user_id),
                "name": users[d.user_id].name,
                "delivered": d.packages_delivered,
                "failed": d.packages_failed,
                "baseSalary": format_amount(d.base_salary),
                "commission": format_amount(d.commission_per_delivery * d.packages_delivered),
                "commissionPerDelivery": format_amount(d.commission_per_delivery),
                "totalEarned": format_amount(d.total_earned),
            }
        )
    snapshot = {
        "currency": uow.currency,
        "totalCost": format_amount(total),
        "delivered": progress.get("DELIVERED", 0),
        "failed": progress.get("FAILED", 0),
        "computedAt": now.isoformat(),
        "deliverers": snapshot_deliverers,
    }
    before = session.status
    ensure_session_transition(before, SessionStatus.COMPLETED)
    session.status = SessionStatus.COMPLETED
    session.completed_at = now
    session.financial_snapshot = snapshot
    uow.record(
        session,
        "session.completed",
        actor.id,
        {
            "before": {"status": before.value},
            "after": {"status": "COMPLETED"},
            "forced": forced,
            "snapshot": snapshot,
        },
    )
    await uow.flush()
