"""The live hub in-process (real PostgreSQL, memory pub/sub): gaps, duplicates, slow subscribers."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_sessionmaker
from db.enums import Role
from domain import packages, sessions
from domain import users as user_service
from domain.packages import PackageData
from domain.uow import UnitOfWork
from live.events import SlowSubscriber
from live.hub import LiveHub


@pytest.fixture
async def hub(engine: AsyncEngine):  # type: ignore[no-untyped-def]
    live = LiveHub("memory://", make_sessionmaker(engine))
    await live.start()
    yield live
    await live.stop()


async def _session_with_events(engine: AsyncEngine, hub: LiveHub, n: int) -> tuple[object, object]:
    maker = make_sessionmaker(engine)
    async with UnitOfWork(maker, hub) as uow:
        manager = (await user_service.create_user(uow, None, "Hub Manager", Role.MANAGER)).user
        row = await sessions.create_session(uow, manager, "Hub")
        await uow.commit()
    for i in range(n):
        async with UnitOfWork(maker, hub) as uow:
            await packages.add_packages(uow, manager, row.id, [PackageData(f"HUB{i:04d}")])
            await uow.commit()
    return manager, row


async def test_replay_then_live_without_duplicates(engine: AsyncEngine, hub: LiveHub) -> None:
    manager, row = await _session_with_events(engine, hub, 5)
    async with hub.listener() as listener:
        await listener.follow(row.id, 2)  # type: ignore[attr-defined]
        batch = await asyncio.wait_for(listener.next_batch(), 5)
        assert [e.sequence for e in batch] == [3, 4, 5, 6]
        # The same events delivered again (a re-read) are dropped; a gap is filled from the table.
        feed = hub.feeds[row.id]  # type: ignore[attr-defined]
        listener.deliver(batch)
        later = await hub.fetch(row.id, 6, None)  # type: ignore[attr-defined]
        assert later == []
        maker = make_sessionmaker(engine)
        for i in range(3):
            async with UnitOfWork(maker) as uow:  # no publisher: pub/sub "lost" these
                await packages.add_packages(uow, manager, row.id, [PackageData(f"LOST{i}")])  # type: ignore[arg-type]
                await uow.commit()
        async with UnitOfWork(maker, hub) as uow:
            await packages.add_packages(uow, manager, row.id, [PackageData("FOUND")])  # type: ignore[arg-type]
            await uow.commit()
        got = await asyncio.wait_for(listener.next_batch(), 5)
        assert [e.sequence for e in got] == [7, 8, 9, 10]
        assert got[-1].details["barcode"] == "FOUND"
        assert feed.last_fetched == 10


async def test_slow_subscriber_is_closed_with_a_reason(engine: AsyncEngine, hub: LiveHub) -> None:
    _, row = await _session_with_events(engine, hub, 12)
    async with hub.listener() as listener:
        listener.max_pending = 5
        await listener.follow(row.id, 0)  # 13 stored entries arrive at once: more than 5
        with pytest.raises(SlowSubscriber, match="too slow"):
            await asyncio.wait_for(listener.next_batch(), 5)
    assert row.id not in hub.feeds  # type: ignore[attr-defined]


async def test_lost_signal_is_caught_by_the_poll(engine: AsyncEngine) -> None:
    live = LiveHub("memory://", make_sessionmaker(engine), poll_s=1.0)
    await live.start()
    try:
        manager, row = await _session_with_events(engine, live, 1)
        async with live.listener() as listener:
            await listener.follow(row.id, None)  # type: ignore[attr-defined]
            async with UnitOfWork(make_sessionmaker(engine)) as uow:  # committed, never published
                await packages.add_packages(uow, manager, row.id, [PackageData("SILENT")])  # type: ignore[arg-type]
                await uow.commit()
            got = await asyncio.wait_for(listener.next_batch(), 5)
            assert [e.action for e in got] == ["package.added"] and got[0].details[
                "barcode"
            ] == "SILENT"
    finally:
        await live.stop()


async def test_visibility_of_many_viewers_is_db_rule(engine: AsyncEngine, hub: LiveHub) -> None:
    from db.enums import Role as R
    from domain import deliverers
    from live.events import Viewer

    maker = make_sessionmaker(engine)
    async with UnitOfWork(maker) as uow:
        owner = (await user_service.create_user(uow, None, "Dona", Role.MANAGER)).user
        other = (await user_service.create_user(uow, None, "Outra", Role.MANAGER)).user
        member = (await user_service.create_user(uow, None, "Membro", Role.DELIVERER)).user
        outsider = (await user_service.create_user(uow, None, "Fora", Role.DELIVERER)).user
        admin = (await user_service.create_user(uow, None, "Admin", Role.ADMIN)).user
        row = await sessions.create_session(uow, owner, "Quem ve")
        await deliverers.add_deliverer(uow, owner, row.id, member.id, "1", "1")
        await uow.commit()
    viewers = {Viewer(u.id, R(u.role)): u.name for u in (owner, other, member, outsider, admin)}
    missing = uuid.uuid4()
    pairs = [(v, row.id) for v in viewers] + [(Viewer(admin.id, R.ADMIN), missing)]
    seen = await hub.visible(pairs)
    assert sorted(viewers[v] for v, _ in seen) == ["Admin", "Dona", "Membro"]
    assert all(s == row.id for _, s in seen)  # nobody sees a session that does not exist
    assert {viewers[v] for v in await hub.store.audience(row.id, viewers)} == {
        "Admin",
        "Dona",
        "Membro",
    }
