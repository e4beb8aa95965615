"""A verified token is trusted for BIPA_AUTH_CACHE seconds; a revoked one is refused after."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx

from gql.context import TokenCache
from tests.conftest import LiveServer, asyncpg_dsn

ME = "{ me { id role } }"


async def _me(client: httpx.AsyncClient, token: str) -> dict:
    r = await client.post(
        "/graphql", json={"query": ME}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200
    return r.json()


async def _revoke(database_url: str, user_id: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", user_id)
    finally:
        await conn.close()


async def test_revoked_token_is_refused_once_the_cache_expires(
    database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "false", "BIPA_AUTH_CACHE": "1"}).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert (await _me(client, manager.token))["data"]["me"]["id"] == manager.id
            await _revoke(database_url, manager.id)
            # Within the cache window the token still works (that is the trade-off)...
            assert (await _me(client, manager.token))["data"]["me"]["id"] == manager.id
            await asyncio.sleep(1.3)
            # ...and after it the database decides again.
            body = await _me(client, manager.token)
            assert body.get("data") is None
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        server.stop()


async def test_without_cache_revocation_applies_at_once(database_url: str, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    server = LiveServer(database_url, {"BIPA_RUN_WORKER": "false", "BIPA_AUTH_CACHE": "0"}).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            assert (await _me(client, manager.token))["data"]["me"]["role"] == "MANAGER"
            await _revoke(database_url, manager.id)
            body = await _me(client, manager.token)
            assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    finally:
        server.stop()


def test_token_cache_expiry_bound_and_keys() -> None:
    class U:
        def __init__(self, n: int) -> None:
            self.id = n

    cache = TokenCache(ttl=0.2, size=3)
    assert cache.get("a") is None
    cache.put("a", U(1))  # type: ignore[arg-type]
    assert cache.get("a").id == 1  # type: ignore[union-attr]
    assert "a" not in cache._users  # kept by hash, never the token itself
    for n, token in enumerate("bcd"):
        cache.put(token, U(n))  # type: ignore[arg-type]
    assert cache.get("a") is None  # the oldest went when a fourth came
    assert cache.get("d") is not None
    time.sleep(0.25)
    assert cache.get("d") is None
    off = TokenCache(ttl=0)
    off.put("a", U(1))  # type: ignore[arg-type]
    assert off.get("a") is None
    assert cache.get("") is None
