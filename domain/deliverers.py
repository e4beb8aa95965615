"""Deliverers of a session and their pay."""

from __future__ import annotations

import uuid
from decimal import Decimal

from db.enums import Role
from db.models import DeliverySession, SessionDeliverer, User
from domain import permissions
from domain.actions import Action
from domain.errors import NotFound, ValidationFailed
from domain.money import earned, format_amount, parse_amount
from domain.uow import UnitOfWork


async def add_deliverer(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    user_id: uuid.UUID,
    base_salary: str | Decimal,
    commission_per_delivery: str | Decimal,
) -> tuple[SessionDeliverer, DeliverySession]:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    base = parse_amount(base_salary, "baseSalary")
    commission = parse_amount(commission_per_delivery, "commissionPerDelivery")
    user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("user not found", id=str(user_id), code="USER_NOT_FOUND")
    if user.role is not Role.DELIVERER:
        raise ValidationFailed(
            "only DELIVERER users can deliver packages", field="userId", code="NOT_A_DELIVERER"
        )
    if await uow.deliverers.by_user(session.id, user.id) is not None:
        raise ValidationFailed(
            "this deliverer is already in the session", field="userId", code="DELIVERER_EXISTS"
        )
    deliverer = SessionDeliverer(
        id=uuid.uuid4(),
        session_id=session.id,
        user_id=user.id,
        base_salary=base,
        commission_per_delivery=commission,
        packages_assigned=0,
        packages_delivered=0,
        packages_failed=0,
        total_earned=earned(base, commission, 0),
    )
    uow.deliverers.add(deliverer)
    uow.record(
        session,
        Action.DELIVERER_ADDED,
        actor.id,
        {
            "delivererId": str(deliverer.id),
            "userId": str(user.id),
            "name": user.name,
            "baseSalary": format_amount(base),
            "commissionPerDelivery": format_amount(commission),
        },
    )
    await uow.flush()
    return deliverer, session


def recompute_earnings(deliverer: SessionDeliverer) -> None:
    deliverer.total_earned = earned(
        deliverer.base_salary, deliverer.commission_per_delivery, deliverer.packages_delivered
    )
