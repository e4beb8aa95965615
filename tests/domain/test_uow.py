"""The unit of work: audit rows written at commit, sequences right across re-locks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from db.enums import Role
from domain import deliverers, packages, sessions
from domain import users as user_service
from domain.errors import ValidationFailed
from domain.packages import PackageData
from domain.uow import UnitOfWork


async def test_many_changes_in_one_unit_of_work_keep_sequences_gapless(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    async with uow_factory() as uow:
        manager = (await user_service.create_user(uow, None, "UoW Manager", Role.MANAGER)).user
        courier = (await user_service.create_user(uow, None, "UoW Courier", Role.DELIVERER)).user
        row = await sessions.create_session(uow, manager, "UoW")
        # Each of these re-reads (and locks) the session row before the audit rows exist.
        await deliverers.add_deliverer(uow, manager, row.id, courier.id, "10.00", "1.00")
        await packages.add_packages(
            uow, manager, row.id, [PackageData("UOW1"), PackageData("UOW2")]
        )
        await sessions.reuse_session(uow, manager, row.id)
        assert row.last_sequence == 5
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.sessions.get(row.id)
        assert stored is not None and stored.last_sequence == 5
        assert list(await uow.audit.sequences(row.id)) == [1, 2, 3, 4, 5]
        entries = await uow.audit.after(row.id, 0, 10)
        assert [e.action for e in entries] == [
            "session.created",
            "deliverer.added",
            "package.added",
            "package.added",
            "session.reused",
        ]


async def test_a_refused_change_writes_no_audit_and_frees_the_lock(
    uow_factory: Callable[[], UnitOfWork],
) -> None:
    async with uow_factory() as uow:
        manager = (await user_service.create_user(uow, None, "UoW Manager 2", Role.MANAGER)).user
        row = await sessions.create_session(uow, manager, "UoW 2")
        await uow.commit()
    with pytest.raises(ValidationFailed):
        async with uow_factory() as uow:
            await sessions.start_session(uow, manager, row.id)  # no packages: refused
    async with uow_factory() as uow:
        assert list(await uow.audit.sequences(row.id)) == [1]
