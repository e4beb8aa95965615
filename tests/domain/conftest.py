"""Domain services called directly on the real database, inside a rolled-back transaction."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import make_sessionmaker
from db.enums import Role
from db.models import User
from domain import commands, users
from domain.operations import Runner
from domain.uow import UnitOfWork
from tests.conftest import RecordingPublisher

MakeUser = Callable[..., Awaitable[User]]


@pytest.fixture
def make_user(uow_factory: Callable[[], UnitOfWork]) -> MakeUser:
    counter = iter(range(10_000))

    async def make(role: Role = Role.MANAGER, name: str | None = None) -> User:
        async with uow_factory() as uow:
            user = (
                await users.create_user(uow, None, name or f"{role} {next(counter)}", role)
            ).user
            await uow.commit()
        return user

    return make


@pytest.fixture
def runner(sessionmaker: async_sessionmaker[AsyncSession], publisher: RecordingPublisher) -> Runner:
    # One connection (the test's outer transaction): calls must not overlap, so no group commit.
    return Runner(sessionmaker, publisher, group_commit=False)  # type: ignore[arg-type]


@pytest.fixture
def committed_runner(engine: AsyncEngine) -> Runner:
    """A runner on the pool that really commits: concurrent calls, group commit."""
    return Runner(make_sessionmaker(engine))


@pytest.fixture
def committed_user(committed_runner: Runner) -> MakeUser:
    async def make(role: Role = Role.MANAGER, name: str | None = None) -> User:
        done = await committed_runner.run_once(
            None, commands.CreateUser(name or f"{role} {uuid.uuid4().hex[:6]}", role)
        )
        user: User = done.rows["user"]
        return user

    return make
