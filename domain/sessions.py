"""Session lifecycle: create, reuse, start, pause, resume, complete, archive."""

from __future__ import annotations

import uuid

from db.base import utcnow
from db.enums import DeliveryStatus, SessionStatus
from db.models import DeliverySession, User
from domain import completion, permissions
from domain.actions import Action
from domain.errors import InvalidTransition, ValidationFailed
from domain.states import ensure_session_transition
from domain.uow import UnitOfWork
from domain.users import clean_name

CLOSED_REASON = "session closed"


def _move(
    uow: UnitOfWork, session: DeliverySession, actor: User, target: SessionStatus, action: Action
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
    permissions.ensure_manager(actor)
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
    uow.record(session, Action.SESSION_CREATED, actor.id, {"name": session.name, "status": "OPEN"})
    await uow.flush()
    return session


async def reuse_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    if session.status is not SessionStatus.OPEN:
        raise InvalidTransition(
            "session", session.status.value, SessionStatus.OPEN.value, code="SESSION_TRANSITION"
        )
    session.was_reused = True
    session.reuse_count += 1
    uow.record(session, Action.SESSION_REUSED, actor.id, {"reuseCount": session.reuse_count})
    await uow.flush()
    return session


async def start_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    if session.status is not SessionStatus.OPEN:
        # PAUSED -> ACTIVE is resumeSession's move, not a start.
        raise InvalidTransition(
            "session", session.status.value, SessionStatus.ACTIVE.value, code="SESSION_TRANSITION"
        )
    if await uow.packages.count(session.id) == 0:
        raise ValidationFailed(
            "a session needs at least one package to start",
            field="sessionId",
            code="SESSION_EMPTY",
        )
    _move(uow, session, actor, SessionStatus.ACTIVE, Action.SESSION_STARTED)
    session.started_at = utcnow()
    await uow.flush()
    return session


async def pause_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    _move(uow, session, actor, SessionStatus.PAUSED, Action.SESSION_PAUSED)
    await uow.flush()
    return session


async def resume_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    if session.status is not SessionStatus.PAUSED:
        raise InvalidTransition(
            "session", session.status.value, SessionStatus.ACTIVE.value, code="SESSION_TRANSITION"
        )
    _move(uow, session, actor, SessionStatus.ACTIVE, Action.SESSION_RESUMED)
    await uow.flush()
    return session


async def archive_session(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    _move(uow, session, actor, SessionStatus.ARCHIVED, Action.SESSION_ARCHIVED)
    session.archived_at = utcnow()
    await uow.flush()
    return session


async def complete_session(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, force: bool
) -> DeliverySession:
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    ensure_session_transition(session.status, SessionStatus.COMPLETED)
    open_packages = await uow.packages.not_final(session.id)
    if open_packages and not force:
        raise InvalidTransition(
            "session",
            session.status.value,
            SessionStatus.COMPLETED.value,
            code="PACKAGES_STILL_OPEN",
            params={"count": str(len(open_packages))},
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
            Action.PACKAGE_STATUS_CHANGED,
            actor.id,
            {
                "packageId": str(package.id),
                "barcode": package.barcode,
                "before": {"status": before.value},
                "after": {"status": "FAILED"},
                "reason": CLOSED_REASON,
            },
        )
    await completion.complete(uow, session, actor, forced=bool(open_packages))
    return session
