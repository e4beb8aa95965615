"""Who may see and change what."""

from __future__ import annotations

import uuid

from db.enums import READONLY_SESSION_STATUSES, Role
from db.models import DeliverySession, User
from domain.errors import NotFound, PermissionDenied, ReadOnlySession
from domain.uow import UnitOfWork


def can_manage(user: User, session: DeliverySession) -> bool:
    """ADMIN manages every session, a MANAGER their own; a DELIVERER none."""
    return user.role is Role.ADMIN or (user.role is Role.MANAGER and session.owner_id == user.id)


def ensure_writable(session: DeliverySession) -> None:
    if session.status in READONLY_SESSION_STATUSES:
        raise ReadOnlySession(str(session.id), session.status.value)


def ensure_manager(user: User) -> None:
    if user.role not in (Role.ADMIN, Role.MANAGER):
        raise PermissionDenied("only managers and admins can do this")


async def lock_for_change(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """Locks the session row for a manager's change; NotFound / PermissionDenied otherwise."""
    session = await uow.lock_session(session_id)
    if session is None:
        raise NotFound("session not found", id=str(session_id))
    if not can_manage(actor, session):
        raise PermissionDenied("you cannot change this session")
    return session


async def lock_visible(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """Locks a session the actor may see (deliverers included)."""
    session = await uow.lock_session(session_id)
    if session is None:
        raise NotFound("session not found", id=str(session_id))
    if not can_manage(actor, session) and not await uow.sessions.is_visible(
        session_id, actor.id, actor.role
    ):
        raise PermissionDenied("you cannot see this session")
    return session
