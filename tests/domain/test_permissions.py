"""Every who-may-do-what rule of domain/permissions.py, decided on rows, role by role."""

from __future__ import annotations

import uuid

import pytest

from db.enums import Role, SessionStatus
from db.models import DeliverySession, SessionDeliverer, User, Webhook
from domain import permissions
from domain.errors import NotFound, PermissionDenied, ReadOnlySession


def _user(role: Role) -> User:
    return User(id=uuid.uuid4(), name=str(role), role=role)


def _session(owner: User, status: SessionStatus = SessionStatus.OPEN) -> DeliverySession:
    return DeliverySession(id=uuid.uuid4(), name="s", status=status, owner_id=owner.id)


def _deliverer(session: DeliverySession, user: User) -> SessionDeliverer:
    return SessionDeliverer(id=uuid.uuid4(), session_id=session.id, user_id=user.id)


def test_who_manages_a_session() -> None:
    owner, other, admin, courier = (
        _user(Role.MANAGER),
        _user(Role.MANAGER),
        _user(Role.ADMIN),
        _user(Role.DELIVERER),
    )
    session = _session(owner)
    assert permissions.can_manage(owner, session)
    assert permissions.can_manage(admin, session)
    assert not permissions.can_manage(other, session)
    assert not permissions.can_manage(courier, session)
    assert [permissions.is_manager(u) for u in (owner, admin, courier)] == [True, True, False]


def test_a_deliverer_sees_only_their_own_pay() -> None:
    manager, ana, bruno = _user(Role.MANAGER), _user(Role.DELIVERER), _user(Role.DELIVERER)
    assert permissions.can_see_pay(ana, ana.id)
    assert not permissions.can_see_pay(ana, bruno.id)
    assert permissions.can_see_pay(manager, bruno.id)
    snapshot = {
        "totalCost": "30.00",
        "deliverers": [
            {"userId": str(ana.id), "totalEarned": "10.00"},
            {"userId": str(bruno.id), "totalEarned": "20.00"},
        ],
    }
    mine = permissions.visible_pay(ana, snapshot)
    assert mine["deliverers"] == [{"userId": str(ana.id), "totalEarned": "10.00"}]
    assert mine["totalCost"] is None, "the total would tell a deliverer the others' pay"
    assert permissions.visible_pay(manager, snapshot) == snapshot


def test_only_a_package_s_own_deliverer_or_a_manager_changes_it() -> None:
    owner, ana, bruno = _user(Role.MANAGER), _user(Role.DELIVERER), _user(Role.DELIVERER)
    session = _session(owner, SessionStatus.ACTIVE)
    hers = _deliverer(session, ana)
    assert permissions.can_change_package(ana, session, hers)
    assert not permissions.can_change_package(bruno, session, hers)
    assert not permissions.can_change_package(ana, session, None)
    assert permissions.can_change_package(owner, session, hers)


@pytest.mark.parametrize(
    ("actor", "role", "allowed"),
    [
        (None, Role.ADMIN, True),
        (Role.ADMIN, Role.ADMIN, True),
        (Role.ADMIN, Role.MANAGER, True),
        (Role.MANAGER, Role.DELIVERER, True),
        (Role.MANAGER, Role.MANAGER, False),
        (Role.MANAGER, Role.ADMIN, False),
        (Role.DELIVERER, Role.DELIVERER, False),
    ],
)
def test_who_creates_which_users(actor: Role | None, role: Role, allowed: bool) -> None:
    creator = _user(actor) if actor is not None else None
    if allowed:
        permissions.ensure_can_create_user(creator, role)
    else:
        with pytest.raises(PermissionDenied) as refused:
            permissions.ensure_can_create_user(creator, role)
        assert refused.value.code == "CANNOT_CREATE_ROLE"


def test_webhooks_of_others_are_not_found_and_read_only_sessions_refuse() -> None:
    owner, other, admin = _user(Role.MANAGER), _user(Role.MANAGER), _user(Role.ADMIN)
    hook = Webhook(id=uuid.uuid4(), owner_id=owner.id)
    assert permissions.ensure_owns_webhook(owner, hook, hook.id) is hook
    assert permissions.ensure_owns_webhook(admin, hook, hook.id) is hook
    with pytest.raises(NotFound) as missing:
        permissions.ensure_owns_webhook(other, hook, hook.id)
    assert missing.value.code == "WEBHOOK_NOT_FOUND"
    with pytest.raises(PermissionDenied) as denied:
        permissions.ensure_manager(_user(Role.DELIVERER))
    assert denied.value.code == "MANAGERS_ONLY"
    permissions.ensure_writable(_session(owner, SessionStatus.ACTIVE))
    for status in (SessionStatus.COMPLETED, SessionStatus.ARCHIVED):
        with pytest.raises(ReadOnlySession) as closed:
            permissions.ensure_writable(_session(owner, status))
        assert closed.value.code == "SESSION_READ_ONLY"
