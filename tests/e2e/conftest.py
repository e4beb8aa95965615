"""Helpers for talking GraphQL to the live server over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from db.enums import Role
from domain import users as user_service
from domain.uow import UnitOfWork
from tests.conftest import LiveServer


@dataclass
class Caller:
    id: str
    name: str
    role: str
    token: str
    client_factory: Callable[[], httpx.Client]

    @property
    def client(self) -> httpx.Client:
        # Resolved on first use, so creating users does not start the shared live server.
        return self.client_factory()

    def raw(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        r = self.client.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {self.token}"},
            **kw,
        )
        assert r.status_code == 200, r.text
        return r.json()

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.raw(query, variables)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture(scope="session")
def http(live_server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def make_user(
    committed_session_uow: Callable[[], UnitOfWork], request: pytest.FixtureRequest
) -> Callable[..., Any]:
    def http_client() -> httpx.Client:
        # Resolved on first use, so creating users does not start the shared live server.
        return request.getfixturevalue("http")  # type: ignore[no-any-return]

    async def make(
        role: str = "MANAGER", name: str | None = None, telegram_id: str | None = None
    ) -> Caller:
        async with committed_session_uow() as uow:
            created = await user_service.create_user(
                uow, None, name or f"{role.title()} {uuid.uuid4().hex[:6]}", Role(role), telegram_id
            )
            await uow.commit()
        return Caller(str(created.user.id), created.user.name, role, created.token, http_client)

    return make


@pytest.fixture(scope="session")
def committed_session_uow(engine: Any) -> Callable[[], UnitOfWork]:
    from db.engine import make_sessionmaker

    maker = make_sessionmaker(engine)
    return lambda: UnitOfWork(maker)


async def acall(
    client: httpx.AsyncClient, caller: Caller, doc: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One GraphQL call over an async client; it must be a clean answer (no `errors`)."""
    r = await client.post(
        "/graphql",
        json={"query": doc, "variables": variables or {}},
        headers={"authorization": f"Bearer {caller.token}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]  # type: ignore[no-any-return]


@pytest.fixture
async def inproc(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in this process (its runner and pool can be looked at), over ASGI."""
    from bipa.app import create_app
    from bipa.settings import Settings

    settings = Settings.from_env(
        {"BROADCAST_URL": "memory://", "BIPA_RUN_WORKER": "false", "BIPA_RATE_LIMITS": "false"}
    )
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bipa", timeout=120) as c:
            c.app = app  # type: ignore[attr-defined]
            yield c
