"""Completing a session: the one place a session becomes COMPLETED, with its snapshot.

A session completes in two ways, both here: by hand (completeSession, perhaps forced) and by
itself, in the same transaction as the change that made its last package final.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from db.enums import SessionStatus
from db.models import DeliverySession, User
from domain import proof
from domain.actions import Action
from domain.money import format_amount
from domain.states import ensure_session_transition
from domain.uow import UnitOfWork


async def complete_if_done(uow: UnitOfWork, session: DeliverySession, actor: User) -> bool:
    """Completes an ACTIVE session once none of its packages is open; True if it did."""
    await uow.flush()
    if session.status is not SessionStatus.ACTIVE:
        return False
    if await uow.packages.count_not_final(session.id) != 0:
        return False
    await complete(uow, session, actor)
    return True


async def complete(
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
        # The context the figures were earned in: what proof a delivery had to carry.
        "proofRequired": proof.requirement(session),
    }
    before = session.status
    ensure_session_transition(before, SessionStatus.COMPLETED)
    session.status = SessionStatus.COMPLETED
    session.completed_at = now
    session.financial_snapshot = snapshot
    uow.record(
        session,
        Action.SESSION_COMPLETED,
        actor.id,
        {
            "before": {"status": before.value},
            "after": {"status": "COMPLETED"},
            "forced": forced,
            "snapshot": snapshot,
        },
    )
    await uow.flush()
