"""Pub/sub backends against real servers: memory, postgres, redis; failures and two instances."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator

import asyncpg
import pytest

from tests.conftest import CI, LiveServer, asyncpg_dsn, free_port
from tests.e2e import queries as q
from tests.e2e.test_subscriptions import _post
from tests.e2e.wsclient import EVENTS, WsClient

pytestmark = pytest.mark.e2e


class RedisServer:
    """A private redis-server on a free port, so a test can restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import socket
        import time

        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if CI:
            pytest.fail("redis-server is required in CI")
        pytest.skip("redis-server not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


async def _writer(
    server: LiveServer, token: str, sid: str, prefix: str, n: int, pause: float = 0.02
) -> None:
    for i in range(n):
        await _post(
            server, token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": f"{prefix}{i:03d}"}]
        )
        await asyncio.sleep(pause)


async def _gapless(ws: WsClient, sub: str, first: int, n: int, timeout: float = 60) -> None:
    got = await ws.take(sub, n, timeout=timeout)
    assert [e["sequence"] for e in got] == list(range(first, first + n))


@pytest.fixture
def servers(database_url: str) -> Iterator[list[LiveServer]]:
    started: list[LiveServer] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.parametrize("backend", ["memory", "postgres", "redis"])
async def test_each_backend_delivers(
    backend: str, database_url: str, make_user, servers, request
) -> None:  # type: ignore[no-untyped-def]
    env = {}
    if backend == "memory":
        env["BROADCAST_URL"] = "memory://"
    elif backend == "redis":
        redis = request.getfixturevalue("redis_server")
        env["BROADCAST_URL"] = redis.url
    server = LiveServer(database_url, env).start()
    servers.append(server)
    manager = await make_user("MANAGER")
    sid = (await _post(server, manager.token, q.CREATE_SESSION, name=backend))["createSession"][
        "session"
    ]["id"]
    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        await asyncio.sleep(0.3)
        await asyncio.gather(
            *[_writer(server, manager.token, sid, f"B{w}-", 5, 0) for w in range(4)]
        )
        await _gapless(ws, sub, 2, 20)
    assert backend in server.log_text()


async def test_postgres_listen_connection_killed(database_url: str, make_user, servers) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url).start()
    servers.append(server)
    manager = await make_user("MANAGER")
    sid = (await _post(server, manager.token, q.CREATE_SESSION, name="pg kill"))["createSession"][
        "session"
    ]["id"]
    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        await asyncio.sleep(0.3)
        writer = asyncio.create_task(_writer(server, manager.token, sid, "K", 40, 0.05))
        await asyncio.sleep(0.6)
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            killed = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = 'bipa-live' AND datname = current_database()"
            )
        finally:
            await conn.close()
        assert killed >= 1
        await writer
        await _gapless(ws, sub, 2, 40)
    assert "reconnected" in server.log_text()


async def test_redis_restart(
    database_url: str, make_user, servers, redis_server: RedisServer
) -> None:  # type: ignore[no-untyped-def]
    server = LiveServer(database_url, {"BROADCAST_URL": redis_server.url}).start()
    servers.append(server)
    manager = await make_user("MANAGER")
    sid = (await _post(server, manager.token, q.CREATE_SESSION, name="redis restart"))[
        "createSession"
    ]["session"]["id"]
    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        await asyncio.sleep(0.3)
        writer = asyncio.create_task(_writer(server, manager.token, sid, "RR", 40, 0.05))
        await asyncio.sleep(0.6)
        redis_server.stop()
        await asyncio.sleep(1.0)
        redis_server.start()
        await writer
        await _gapless(ws, sub, 2, 40)
        # And live delivery works again through the restarted server.
        await _writer(server, manager.token, sid, "AFTER", 3)
        await _gapless(ws, sub, 42, 3, timeout=20)


@pytest.mark.parametrize("backend", ["postgres", "redis"])
async def test_two_instances(backend: str, database_url: str, make_user, servers, request) -> None:  # type: ignore[no-untyped-def]
    env = {}
    if backend == "redis":
        env["BROADCAST_URL"] = request.getfixturevalue("redis_server").url
    a = LiveServer(database_url, env).start()
    servers.append(a)
    b = LiveServer(database_url, env).start()
    servers.append(b)
    manager = await make_user("MANAGER")
    sid = (await _post(b, manager.token, q.CREATE_SESSION, name=f"2x {backend}"))["createSession"][
        "session"
    ]["id"]
    async with WsClient(a.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await _writer(b, manager.token, sid, "X", 10, 0)
        await _gapless(ws, sub, 2, 10, timeout=20)
        # Delivered through pub/sub, well before the 5 s safety poll would have caught it.
        assert loop.time() - started < 4.5
