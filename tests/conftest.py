"""Fixtures shared by every test: a real PostgreSQL database, migrated once per run.

TEST_DATABASE_URL (any database on the server; used to create ours) or, when unset, the
embedded PostgreSQL under .data/. Each run gets its own fresh database, dropped at the end.
Tests that use `uow_factory` run inside an outer transaction rolled back afterwards
(the SQLAlchemy "join a session into an external transaction" recipe).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bipa import database, embedded
from db.engine import make_engine
from domain.events import EventPublisher
from domain.uow import UnitOfWork

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The suite sends thousands of requests and wrong tokens from 127.0.0.1: every server it
# starts (they inherit the environment) runs without rate limits, except those of
# tests/e2e/test_rate_limits.py, which set BIPA_RATE_LIMITS=true.
os.environ.setdefault("BIPA_RATE_LIMITS", "false")


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if url:
        for prefix in ("postgresql+asyncpg://", "postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        raise RuntimeError("TEST_DATABASE_URL must be a postgresql:// URL")
    return embedded.start(Path(os.environ.get("BIPA_DATA_DIR", ROOT / ".data")), "postgres")


def with_database(url: str, name: str) -> str:
    head, sep, query = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{name}{sep}{query}"


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
async def create_database(server_url: str) -> AsyncIterator[Callable[[str], object]]:
    """Creates throw-away databases on the test server; drops them all at the end."""
    created: list[str] = []

    async def make(prefix: str) -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        await _admin(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        return with_database(server_url, name)

    yield make  # type: ignore[misc]
    for name in created:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
async def database_url(create_database: Callable[[str], object]) -> str:
    url = await create_database("bipa_test")  # type: ignore[misc]
    # Alembic's env.py runs its own event loop: keep it off ours.
    await asyncio.to_thread(database.migrate, str(url))
    return str(url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url, pool_size=5, max_overflow=10)
    yield eng
    await eng.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside an outer transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        try:
            yield connection
        finally:
            if outer.is_active:
                await outer.rollback()


@pytest.fixture
def sessionmaker(conn: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=conn,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[object] = []

    async def publish(self, events: list[object]) -> None:  # type: ignore[override]
        self.published.extend(events)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def uow_factory(
    sessionmaker: async_sessionmaker[AsyncSession], publisher: RecordingPublisher
) -> Callable[[], UnitOfWork]:
    pub: EventPublisher = publisher  # type: ignore[assignment]
    return lambda: UnitOfWork(sessionmaker, pub)


@pytest.fixture
def committed_uow(engine: AsyncEngine) -> Callable[[], UnitOfWork]:
    """Units of work that really commit (for concurrency tests); data stays in the test DB."""
    from db.engine import make_sessionmaker

    maker = make_sessionmaker(engine)
    return lambda: UnitOfWork(maker)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """A real `bipa serve` process (uvicorn) on a free loopback port."""

    def __init__(self, database_url: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        self.database_url = database_url
        self.extra_env = env or {}
        self.proc: object = None
        self.log_path = ROOT / "test-artifacts" / f"server-{self.port}.log"

    def start(self) -> LiveServer:
        import subprocess
        import sys
        import time

        import httpx

        self.log_path.parent.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "BIPA_PORT": str(self.port),
            "BIPA_LOG_LEVEL": "INFO",
            **self.extra_env,
        }
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bipa.cli", "serve"], env=env, stdout=self._log, stderr=self._log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:  # type: ignore[attr-defined]
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not become healthy in 60 s")

    def stop(self) -> None:
        proc = self.proc
        if proc is not None:
            proc.terminate()  # type: ignore[attr-defined]
            try:
                proc.wait(15)  # type: ignore[attr-defined]
            except Exception:
                proc.kill()  # type: ignore[attr-defined]
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def live_server(database_url: str) -> object:
    # Its webhook worker stays off: webhook tests start servers and workers of their own, and a
    # shared worker would deliver their outbox behind their backs.
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "false"}).start()
    yield server
    server.stop()


# Fixtures that start a server (uvicorn, a fake Telegram Bot API, a bot) or the whole app.
SERVER_FIXTURES = frozenset({"live_server", "web_server", "fake_api", "start_bot", "inproc"})
SERVER_DIRS = ("e2e", "web", "bot")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`e2e` on every test that starts a server, so `-m "not e2e"` is the fast loop."""
    for item in items:
        parts = item.path.relative_to(ROOT).parts
        uses_server = bool(SERVER_FIXTURES & set(getattr(item, "fixturenames", ())))
        if uses_server or (len(parts) > 1 and parts[1] in SERVER_DIRS):
            item.add_marker(pytest.mark.e2e)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every optional service must be there."""
    if not CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        print(f"\nCI=true: {len(skipped)} skipped test(s) count as failures")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
