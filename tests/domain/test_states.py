"""The state machines of domain/states.py, every pair, checked against the design.

The expected moves are written out here from the design notes, not derived from the tables
under test, so a wrong entry in SESSION_TRANSITIONS / PACKAGE_TRANSITIONS fails a test.
The second half drives the real services (rolled-back transaction) through every state and
every lifecycle operation, so the services cannot bypass the tables either.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from db.enums import DeliveryStatus, Role, SessionStatus
from db.models import User
from domain import deliverers, packages, sessions, states, users
from domain.errors import InvalidTransition, ReadOnlySession
from domain.uow import UnitOfWork

S = SessionStatus
D = DeliveryStatus

# From the original design notes, "State machines".
SESSION_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("OPEN", "ACTIVE"),
        ("ACTIVE", "PAUSED"),
        ("PAUSED", "ACTIVE"),
        ("ACTIVE", "COMPLETED"),
        ("PAUSED", "COMPLETED"),
        ("COMPLETED", "ARCHIVED"),
    }
)
PACKAGE_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("PENDING", "PICKED_UP"),
        ("PENDING", "DELIVERED"),
        ("PENDING", "FAILED"),
        ("PICKED_UP", "DELIVERED"),
        ("PICKED_UP", "FAILED"),
    }
)
SESSION_NAMES = ["OPEN", "ACTIVE", "PAUSED", "COMPLETED", "ARCHIVED"]
PACKAGE_NAMES = ["PENDING", "PICKED_UP", "DELIVERED", "FAILED"]
SESSION_PAIRS = list(itertools.product(SESSION_NAMES, repeat=2))
PACKAGE_PAIRS = list(itertools.product(PACKAGE_NAMES, repeat=2))


def test_the_enums_are_the_ones_of_the_design() -> None:
    assert sorted(s.value for s in SessionStatus) == sorted(SESSION_NAMES)
    assert sorted(d.value for d in DeliveryStatus) == sorted(PACKAGE_NAMES)
    assert len(SESSION_PAIRS) == 25 and len(PACKAGE_PAIRS) == 16
    assert set(states.SESSION_TRANSITIONS) == set(SessionStatus)
    assert set(states.PACKAGE_TRANSITIONS) == set(DeliveryStatus)


@pytest.mark.parametrize(("current", "target"), SESSION_PAIRS)
def test_session_transition(current: str, target: str) -> None:
    allowed = (current, target) in SESSION_ALLOWED
    assert states.session_can(S(current), S(target)) is allowed
    if allowed:
        states.ensure_session_transition(S(current), S(target))
    else:
        with pytest.raises(InvalidTransition) as err:
            states.ensure_session_transition(S(current), S(target))
        assert (err.value.from_, err.value.to) == (current, target)


@pytest.mark.parametrize(("current", "target"), PACKAGE_PAIRS)
def test_package_transition(current: str, target: str) -> None:
    allowed = (current, target) in PACKAGE_ALLOWED
    assert states.package_can(D(current), D(target)) is allowed
    if allowed:
        states.ensure_package_transition(D(current), D(target))
    else:
        with pytest.raises(InvalidTransition) as err:
            states.ensure_package_transition(D(current), D(target))
        assert (err.value.from_, err.value.to) == (current, target)


def test_final_package_states_have_no_way_out() -> None:
    for final in ("DELIVERED", "FAILED"):
        assert states.PACKAGE_TRANSITIONS[D(final)] == frozenset()
    assert states.SESSION_TRANSITIONS[S.ARCHIVED] == frozenset()


# ---- the services against the tables, in a rolled-back transaction ---------------------

UowFactory = Callable[[], UnitOfWork]


async def _user(uow_factory: UowFactory, role: Role, name: str) -> User:
    async with uow_factory() as uow:
        created = await users.create_user(uow, None, name, role)
        await uow.commit()
    return created.user


async def _call(uow_factory: UowFactory, fn: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
    async with uow_factory() as uow:
        result = await fn(uow)
        await uow.commit()
    return result


async def _session_in(
    uow_factory: UowFactory, owner: User, status: str, barcodes: list[str]
) -> tuple[Any, list[Any]]:
    """A session brought to `status` through the services only, with `barcodes` as packages."""
    row = await _call(uow_factory, lambda u: sessions.create_session(u, owner, "Estados"))
    added = await _call(
        uow_factory,
        lambda u: packages.add_packages(
            u, owner, row.id, [packages.PackageData(barcode=b) for b in barcodes]
        ),
    )
    path = {
        "OPEN": [],
        "ACTIVE": ["start"],
        "PAUSED": ["start", "pause"],
        "COMPLETED": ["start", "complete"],
        "ARCHIVED": ["start", "complete", "archive"],
    }[status]
    for step in path:
        op = _OPS[step]
        await _call(uow_factory, lambda u, op=op: op(u, owner, row.id))  # type: ignore[misc]
    async with uow_factory() as uow:
        fresh = await uow.sessions.get(row.id)
        assert fresh is not None and fresh.status.value == status
    return row, added.added


_OPS: dict[str, Callable[[UnitOfWork, User, Any], Awaitable[Any]]] = {
    "start": sessions.start_session,
    "pause": sessions.pause_session,
    "resume": sessions.resume_session,
    "complete": lambda u, a, sid: sessions.complete_session(u, a, sid, force=True),
    "archive": sessions.archive_session,
}
# Which design move each operation makes (from, to); start and resume both reach ACTIVE but
# each only from its own state.
_OP_MOVES = {
    "start": {("OPEN", "ACTIVE")},
    "pause": {("ACTIVE", "PAUSED")},
    "resume": {("PAUSED", "ACTIVE")},
    "complete": {("ACTIVE", "COMPLETED"), ("PAUSED", "COMPLETED")},
    "archive": {("COMPLETED", "ARCHIVED")},
}


@pytest.mark.parametrize(
    ("status", "op"), list(itertools.product(SESSION_NAMES, sorted(_OPS))), ids=str
)
async def test_session_services_follow_the_table(
    uow_factory: UowFactory, status: str, op: str
) -> None:
    owner = await _user(uow_factory, Role.MANAGER, "Dona")
    row, _ = await _session_in(uow_factory, owner, status, ["7891000315507"])
    moves = _OP_MOVES[op]
    assert moves <= SESSION_ALLOWED
    expected_target = next((to for frm, to in moves if frm == status), None)
    async with uow_factory() as uow:
        before = await uow.sessions.get(row.id)
        assert before is not None
        sequence_before = before.last_sequence
    if expected_target is not None:
        done = await _call(uow_factory, lambda u: _OPS[op](u, owner, row.id))
        assert done.status.value == expected_target
        assert done.last_sequence > sequence_before
        return
    with pytest.raises((InvalidTransition, ReadOnlySession)):
        await _call(uow_factory, lambda u: _OPS[op](u, owner, row.id))
    async with uow_factory() as uow:
        after = await uow.sessions.get(row.id)
        assert after is not None
        assert after.status.value == status, "a refused move changes nothing"
        assert after.last_sequence == sequence_before
        assert await uow.audit.count(row.id) == sequence_before


async def _package_to(uow_factory: UowFactory, actor: User, package_id: Any, status: str) -> Any:
    reason = "recusado" if status == "FAILED" else None
    return await _call(
        uow_factory,
        lambda u: packages.update_package_status(u, actor, package_id, D(status), reason),
    )


@pytest.mark.parametrize(("current", "target"), PACKAGE_PAIRS)
async def test_package_service_follows_the_table(
    uow_factory: UowFactory, current: str, target: str
) -> None:
    owner = await _user(uow_factory, Role.MANAGER, "Dono")
    courier = await _user(uow_factory, Role.DELIVERER, "Entregador")
    # Two packages, so the one under test never completes the session by itself.
    row, added = await _session_in(uow_factory, owner, "OPEN", ["96385074", "036000291452"])
    deliverer, _ = await _call(
        uow_factory,
        lambda u: deliverers.add_deliverer(u, owner, row.id, courier.id, "10.00", "1.25"),
    )
    await _call(
        uow_factory,
        lambda u: packages.assign_packages(u, owner, row.id, [p.id for p in added], deliverer.id),
    )
    await _call(uow_factory, lambda u: sessions.start_session(u, owner, row.id))
    package = added[0]
    path = {"PENDING": [], "PICKED_UP": ["PICKED_UP"], "DELIVERED": ["DELIVERED"]}
    for step in path.get(current, [current]):
        await _package_to(uow_factory, courier, package.id, step)

    async with uow_factory() as uow:
        s = await uow.sessions.get(row.id)
        assert s is not None
        sequence_before = s.last_sequence
    if (current, target) in PACKAGE_ALLOWED:
        moved, session_row = await _package_to(uow_factory, courier, package.id, target)
        assert moved.status.value == target
        assert session_row.status is S.ACTIVE
        assert session_row.last_sequence == sequence_before + 1
        return
    with pytest.raises(InvalidTransition) as err:
        await _package_to(uow_factory, courier, package.id, target)
    assert (err.value.from_, err.value.to) == (current, target)
    async with uow_factory() as uow:
        fresh = await uow.packages.get(package.id)
        s = await uow.sessions.get(row.id)
        assert fresh is not None and fresh.status.value == current
        assert s is not None and s.last_sequence == sequence_before
        d = await uow.deliverers.get(deliverer.id)
        assert d is not None
        assert d.packages_delivered == (1 if current == "DELIVERED" else 0)
        assert d.packages_failed == (1 if current == "FAILED" else 0)
