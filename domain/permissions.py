"""Who may see and do what: every rule of the kind, in one place.

Services and front-ends ask here; nothing else compares roles or owners. A rule that depends
on rows (a session's owner, a package's deliverer) takes those rows, so it is decided on what
the caller's own transaction read, never on something remembered from earlier.
"""

from __future__ import annotations

import uuid
from typing import Any

from db.enums import READONLY_SESSION_STATUSES, Role
from db.models import DeliverySession, SessionDeliverer, User, Webhook
from domain.errors import NotFound, PermissionDenied, ReadOnlySession
from domain.uow import UnitOfWork


def is_manager(user: User) -> bool:
    """ADMINs and MANAGERs run sessions; DELIVERERs work in them."""
    return user.role in (Role.ADMIN, Role.MANAGER)


def can_manage(user: User, session: DeliverySession) -> bool:
    """ADMIN manages every session, a MANAGER their own; a DELIVERER none."""
    return user.role is Role.ADMIN or (user.role is Role.MANAGER and session.owner_id == user.id)


def can_list_users(user: User) -> bool:
    """Managers pick deliverers (and admins anyone) from the list of users; it shows names
    and roles only."""
    return is_manager(user)


def manages_every_session(user: User) -> bool:
    return user.role is Role.ADMIN


def can_follow_jobs(user: User, session: DeliverySession) -> bool:
    """Jobs of a session (imports, exports, with their files) are its managers' business."""
    return can_manage(user, session)


def can_see_pay(viewer: User, deliverer_user_id: uuid.UUID) -> bool:
    """Pay (salary, commission, earnings) of a deliverer of a session the viewer can see.

    Seen by the session's managers and by the deliverer it belongs to; another deliverer of
    the same session does not see it. Only the managers of a session can see it at all (an
    ADMIN, or the MANAGER who owns it), so among its viewers "manager" is the role.
    """
    return is_manager(viewer) or viewer.id == deliverer_user_id


def visible_pay(viewer: User, snapshot: dict[str, Any]) -> dict[str, Any]:
    """A financial snapshot as the viewer may see it: a deliverer gets their own line and
    no total (the total would tell them the others' pay)."""
    if is_manager(viewer):
        return snapshot
    mine = [d for d in snapshot.get("deliverers", []) if d.get("userId") == str(viewer.id)]
    return {**snapshot, "deliverers": mine, "totalCost": None}


def can_change_package(
    actor: User, session: DeliverySession, deliverer: SessionDeliverer | None
) -> bool:
    """A package's status is changed by its own deliverer or by the session's managers."""
    own = actor.role is Role.DELIVERER and deliverer is not None and deliverer.user_id == actor.id
    return own or can_manage(actor, session)


def ensure_can_create_user(actor: User | None, role: Role) -> None:
    """ADMIN creates any role, a MANAGER DELIVERERs only; `None` is the operator's CLI."""
    allowed = (
        actor is None
        or actor.role is Role.ADMIN
        or (actor.role is Role.MANAGER and role is Role.DELIVERER)
    )
    if not allowed:
        raise PermissionDenied(
            f"a {actor.role if actor else '?'} cannot create a {role} user",
            code="CANNOT_CREATE_ROLE",
            params={"role": str(role)},
        )


def ensure_manager(user: User) -> None:
    if not is_manager(user):
        raise PermissionDenied("only managers and admins can do this", code="MANAGERS_ONLY")


def ensure_owns_webhook(actor: User, webhook: Webhook | None, webhook_id: uuid.UUID) -> Webhook:
    """Managers see their own webhooks, admins all; anyone else's is "not found"."""
    if webhook is None or (actor.role is not Role.ADMIN and webhook.owner_id != actor.id):
        raise NotFound("webhook not found", id=str(webhook_id), code="WEBHOOK_NOT_FOUND")
    return webhook


def ensure_writable(session: DeliverySession) -> None:
    if session.status in READONLY_SESSION_STATUSES:
        raise ReadOnlySession(str(session.id), session.status.value)


def _session_not_found(session_id: uuid.UUID) -> NotFound:
    return NotFound("session not found", id=str(session_id), code="SESSION_NOT_FOUND")


async def can_see(uow: UnitOfWork, actor: User, session: DeliverySession) -> bool:
    """Managers of a session see it, and so do its deliverers (read now, in this transaction)."""
    return can_manage(actor, session) or await uow.sessions.is_visible(
        session.id, actor.id, actor.role
    )


async def ensure_can_see(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """The session, unlocked, if the actor may see it."""
    session = await uow.sessions.get(session_id)
    if session is None:
        raise _session_not_found(session_id)
    if not await can_see(uow, actor, session):
        raise PermissionDenied("you cannot see this session", code="SESSION_HIDDEN")
    return session


async def ensure_manages(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """The session, unlocked, if the actor manages it: its report (every package, every
    deliverer's pay) and a manifest's dry run are for its managers only."""
    session = await uow.sessions.get(session_id)
    if session is None:
        raise _session_not_found(session_id)
    if not can_manage(actor, session):
        raise PermissionDenied("you cannot change this session", code="NOT_SESSION_MANAGER")
    return session


async def _locked(uow: UnitOfWork, session_id: uuid.UUID) -> DeliverySession:
    session = await uow.lock_session(session_id)
    if session is None:
        raise _session_not_found(session_id)
    return session


async def lock_for_change(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """Locks the session row for a manager's change; NotFound / PermissionDenied otherwise."""
    session = await _locked(uow, session_id)
    if not can_manage(actor, session):
        raise PermissionDenied("you cannot change this session", code="NOT_SESSION_MANAGER")
    return session


async def lock_visible(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    """Locks a session the actor may see (deliverers included)."""
    session = await _locked(uow, session_id)
    if not await can_see(uow, actor, session):
        raise PermissionDenied("you cannot see this session", code="SESSION_HIDDEN")
    return session
