"""Open websockets follow the truth as it changes, not as it was at connect or subscribe:
who the caller is (a revoked token), and which sessions they may see (a deliverer added later).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import asyncpg
import pytest

from tests.conftest import LiveServer, asyncpg_dsn
from tests.e2e import queries as q
from tests.e2e.test_subscriptions import _post
from tests.e2e.wsclient import EVENTS, MINE, WsClient

pytestmark = pytest.mark.e2e

AUTH_CACHE_S = 1.0


@pytest.fixture(scope="module")
def short_cache_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(
        database_url, {"BIPA_RUN_WORKER": "false", "BIPA_AUTH_CACHE": str(AUTH_CACHE_S)}
    ).start()
    yield server
    server.stop()


async def _sql(database_url: str, statement: str, *args: object) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await conn.execute(statement, *args)
    finally:
        await conn.close()


async def _closed(ws: WsClient, timeout: float) -> tuple[int, str]:
    assert ws.closed is not None
    return await asyncio.wait_for(asyncio.shield(ws.closed), timeout)


async def _session(server: LiveServer, token: str, name: str) -> str:
    data = await _post(server, token, q.CREATE_SESSION, name=name)
    return str(data["createSession"]["session"]["id"])


async def _add_deliverer(server: LiveServer, token: str, sid: str, uid: str) -> None:
    data = await _post(
        server, token, q.ADD_DELIVERER, sid=sid, uid=uid, base="10.00", commission="1.50"
    )
    assert data["addDeliverer"]["__typename"] == "AddDelivererSuccess", data


async def test_deliverer_added_later_sees_that_session_on_my_session_events(
    live_server: LiveServer, make_user
) -> None:  # type: ignore[no-untyped-def]
    """The web sessions list: a deliverer's front page, open before the session existed,
    shows it from the moment they are added (its first events were not theirs to see)."""
    manager = await make_user("MANAGER")
    deliverer = await make_user("DELIVERER")
    stranger = await make_user("DELIVERER")
    async with (
        WsClient(live_server.ws_url, deliverer.token) as ws,
        WsClient(live_server.ws_url, stranger.token) as other,
    ):
        assert await ws.acked() and await other.acked()
        mine = await ws.subscribe(MINE)
        theirs = await other.subscribe(MINE)
        await asyncio.sleep(0.5)  # subscribed (and parked) before the session exists
        sid = await _session(live_server, manager.token, "Depois")
        await _post(
            live_server, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "V1"}]
        )
        await asyncio.sleep(0.5)  # seen, and judged not visible, by both front pages
        assert ws.queues[mine].empty()
        await _add_deliverer(live_server, manager.token, sid, deliverer.id)
        await _post(
            live_server, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "V2"}]
        )
        got = await ws.take(mine, 2)
        assert [(e["sessionId"], e["action"]) for e in got] == [
            (sid, "deliverer.added"),
            (sid, "package.added"),
        ]
        await asyncio.sleep(0.3)
        assert ws.queues[mine].empty()
        assert other.queues[theirs].empty()  # still not the stranger's to see


async def test_a_revoked_token_closes_its_open_websocket_4403(
    short_cache_server: LiveServer, database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    keeper = await make_user("MANAGER")
    server = short_cache_server
    sid = await _session(server, manager.token, "Revogada")
    keeper_sid = await _session(server, keeper.token, "Fica")
    async with (
        WsClient(server.ws_url, manager.token) as ws,
        WsClient(server.ws_url, keeper.token) as stays,
    ):
        assert await ws.acked() and await stays.acked()
        events = await ws.subscribe(EVENTS, sid=sid, after=0)
        kept = await stays.subscribe(EVENTS, sid=keeper_sid, after=None)
        assert [e["sequence"] for e in await ws.take(events, 1)] == [1]
        await _sql(
            database_url, "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1", manager.id
        )
        code, _ = await _closed(ws, AUTH_CACHE_S + 1.0)
        assert code == 4403
        assert ws.queues[events].empty()
        # Everybody else goes on.
        await _post(
            server, keeper.token, q.ADD_PACKAGES, sid=keeper_sid, packages=[{"barcode": "K1"}]
        )
        assert [e["sequence"] for e in await stays.take(kept, 1)] == [2]
    # As at connect: the revoked token cannot open a new one.
    async with WsClient(server.ws_url, manager.token) as again:
        assert not await again.acked(5)
        assert (await _closed(again, 5))[0] == 4403


async def test_a_deleted_token_closes_an_idle_front_page_4403(
    short_cache_server: LiveServer, database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    deliverer = await make_user("DELIVERER")
    async with WsClient(short_cache_server.ws_url, deliverer.token) as ws:
        assert await ws.acked()
        await ws.subscribe(MINE)
        await asyncio.sleep(0.3)
        await _sql(database_url, "DELETE FROM api_tokens WHERE user_id = $1", deliverer.id)
        assert (await _closed(ws, AUTH_CACHE_S + 1.0))[0] == 4403


async def test_a_caller_whose_role_changed_is_asked_to_reconnect(
    short_cache_server: LiveServer, database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    """A manager demoted to deliverer in the database no longer sees their sessions: the
    socket closes (not 4403: the token is still good) and a new one decides again."""
    manager = await make_user("MANAGER")
    server = short_cache_server
    sid = await _session(server, manager.token, "Rebaixado")
    async with WsClient(server.ws_url, manager.token) as ws:
        assert await ws.acked()
        events = await ws.subscribe(EVENTS, sid=sid, after=0)
        assert [e["sequence"] for e in await ws.take(events, 1)] == [1]
        await _sql(database_url, "UPDATE users SET role = 'DELIVERER' WHERE id = $1", manager.id)
        code, _ = await _closed(ws, AUTH_CACHE_S + 1.0)
        assert code not in (0, 1000, 4403), code
    # At once: the re-check refreshed the token cache too.
    async with WsClient(server.ws_url, manager.token) as again:
        assert await again.acked()
        refused = await again.subscribe(EVENTS, sid=sid, after=0)
        msg = await again.next(refused)
        assert (
            msg["type"] == "next"
            and msg["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        )


async def test_a_deliverer_removed_from_a_session_stops_receiving_it(
    short_cache_server: LiveServer, database_url: str, make_user
) -> None:  # type: ignore[no-untyped-def]
    """Visibility is checked at subscribe; taken away in the database since, the session's
    subscription ends with NOT_FOUND (as a new one would) and the front page drops it, while
    the sessions still visible go on."""
    manager = await make_user("MANAGER")
    deliverer = await make_user("DELIVERER")
    server = short_cache_server
    gone = await _session(server, manager.token, "Saiu")
    stays = await _session(server, manager.token, "Ficou")
    for sid in (gone, stays):
        await _add_deliverer(server, manager.token, sid, deliverer.id)
    async with WsClient(server.ws_url, deliverer.token) as ws:
        assert await ws.acked()
        events = await ws.subscribe(EVENTS, sid=gone, after=None)
        mine = await ws.subscribe(MINE)
        await asyncio.sleep(0.5)
        await _post(server, manager.token, q.ADD_PACKAGES, sid=gone, packages=[{"barcode": "R1"}])
        assert [e["action"] for e in await ws.take(events, 1)] == ["package.added"]
        assert [e["sessionId"] for e in await ws.take(mine, 1)] == [gone]
        await _sql(
            database_url,
            "DELETE FROM session_deliverers WHERE session_id = $1 AND user_id = $2",
            gone,
            deliverer.id,
        )
        ended = await ws.next(events, timeout=AUTH_CACHE_S + 2.0)
        assert ended["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        assert (await ws.next(events))["type"] == "complete"
        await _post(server, manager.token, q.ADD_PACKAGES, sid=gone, packages=[{"barcode": "R2"}])
        await _post(server, manager.token, q.ADD_PACKAGES, sid=stays, packages=[{"barcode": "R3"}])
        assert [(e["sessionId"], e["action"]) for e in await ws.take(mine, 1)] == [
            (stays, "package.added")
        ]
        await asyncio.sleep(0.3)
        assert ws.queues[mine].empty() and ws.queues[events].empty()
