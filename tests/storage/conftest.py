"""Both object stores on real servers: moto's standalone S3 and the app's own link route."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from storage import LocalStore, ObjectStore
from storage.serve import object_routes
from tests.conftest import free_port


class ThreadedUvicorn:
    """An ASGI app on a loopback port, in a thread of the test process."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedUvicorn:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's standalone S3 server on loopback, behind the SigV4 gate (sigv4_gate.py)."""
    from moto.server import ThreadedMotoServer

    from tests.storage.sigv4_gate import gate

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        with ThreadedUvicorn(gate(f"http://127.0.0.1:{port}", "testing")) as front:
            yield front.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("objects")


@pytest.fixture(scope="session")
def local_server(local_root: Path) -> Iterator[tuple[LocalStore, str]]:
    """The embedded store, its links served over real HTTP by `storage.serve`."""
    secret = secrets.token_bytes(32)
    holder: dict[str, LocalStore] = {}
    with ThreadedUvicorn(Starlette()) as server:
        store = LocalStore(local_root, secret, base_url=server.url + "/objects")
        server.server.config.app.router.routes.extend(object_routes(store))  # type: ignore[attr-defined]
        holder["store"] = store
        yield store, server.url


async def s3_store(moto_url: str, bucket: str | None = None) -> ObjectStore:
    from storage.s3 import S3Store

    store = S3Store(
        bucket or f"bipa-{uuid.uuid4().hex[:8]}",
        prefix="test",
        endpoint_url=moto_url,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    await store.create_bucket()
    return store


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ObjectStore]:
    if request.param == "local":
        local, _ = request.getfixturevalue("local_server")
        yield local
        return
    s3 = await s3_store(request.getfixturevalue("moto_url"))
    try:
        yield s3
    finally:
        await s3.close()


@pytest.fixture
def http() -> Iterator[httpx.AsyncClient]:
    client = httpx.AsyncClient(timeout=10)
    yield client
