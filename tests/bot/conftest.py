"""The bot in-process (long polling against the fake Bot API) on the real test database."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import build_application, run_polling
from bot.context import BotServices
from db.engine import make_sessionmaker
from db.enums import Role
from domain import users as user_service
from domain.proof import ProofConfig
from domain.scanning import ScanPool
from domain.uow import UnitOfWork
from storage import LocalStore
from tests.bot.fakeapi import FakeBotAPI, Person
from tests.conftest import RecordingPublisher


@dataclass
class RunningBot:
    application: Any
    stop_event: asyncio.Event
    task: asyncio.Task[None]
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 15)


@pytest.fixture(scope="session")
def scan_pool() -> Any:
    pool = ScanPool(workers=2, queue=16, budget_s=1.5)
    yield pool
    pool.shutdown()


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    api = await FakeBotAPI().start()
    yield api
    await api.stop()


@pytest.fixture(scope="session")
def proof_config(tmp_path_factory: pytest.TempPathFactory) -> ProofConfig:
    """Proof goes to an embedded store of the test run's own."""
    root = tmp_path_factory.mktemp("bot-objects")
    return ProofConfig(LocalStore(root, secrets.token_bytes(32)))


@pytest.fixture
async def start_bot(
    engine: AsyncEngine, scan_pool: ScanPool, fake_api: FakeBotAPI, proof_config: ProofConfig
) -> AsyncIterator[Callable[[], Awaitable[RunningBot]]]:
    """Starts a fresh bot process-alike (new memory) against the fake; stopped after the test."""
    running: list[RunningBot] = []

    async def start() -> RunningBot:
        publisher = RecordingPublisher()
        services = BotServices(
            make_sessionmaker(engine),
            scan_pool,
            publisher,  # type: ignore[arg-type]
            proof=proof_config,
            photos=scan_pool,
        )
        application = build_application(fake_api.token, services, api_url=fake_api.url)
        stop = asyncio.Event()
        task = asyncio.create_task(run_polling(application, stop, poll_timeout=1))
        bot = RunningBot(application, stop, task, publisher)
        running.append(bot)
        await fake_api.wait_method("deleteWebhook")  # polling is about to begin
        return bot

    yield start
    for bot in running:
        if not bot.task.done():
            await bot.stop()


@pytest.fixture
async def bot(start_bot: Callable[[], Awaitable[RunningBot]]) -> RunningBot:
    return await start_bot()


@pytest.fixture
def uow_maker(engine: AsyncEngine) -> Callable[[], UnitOfWork]:
    maker = make_sessionmaker(engine)
    return lambda: UnitOfWork(maker)


def new_telegram_id() -> int:
    return 10**9 + uuid.uuid4().int % 10**9


@pytest.fixture
def person(
    fake_api: FakeBotAPI, uow_maker: Callable[[], UnitOfWork]
) -> Callable[..., Awaitable[Person]]:
    """A Bipa user linked to a fresh Telegram account (role None: an unknown account)."""

    async def make(role: str | None, name: str) -> Person:
        telegram_id = new_telegram_id()
        if role is not None:
            async with uow_maker() as uow:
                await user_service.create_user(uow, None, name, Role(role), str(telegram_id))
                await uow.commit()
        return Person(fake_api, telegram_id, name)

    return make


@pytest.fixture
def sql(engine: AsyncEngine) -> Callable[..., Awaitable[list[Any]]]:
    """Reads the database as it was committed (what the bot really did)."""

    async def run(query: str, **params: Any) -> list[Any]:
        async with engine.connect() as conn:
            return list((await conn.execute(text(query), params)).all())

    return run
