"""Live dashboards over real websockets against a live server (default backend: postgres)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.wsclient import EVENTS, MINE, PROGRESS, WsClient

pytestmark = pytest.mark.e2e


async def _post(server: LiveServer, token: str, query: str, **variables: object) -> dict:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        r = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
        body = r.json()
        assert "errors" not in body, body
        return body["data"]


async def test_bad_token_closes_4403(live_server: LiveServer) -> None:
    async with WsClient(live_server.ws_url, "bipa_wrong") as ws:
        assert not await ws.acked(5)
        assert ws.closed is not None
        code, _ = await asyncio.wait_for(ws.closed, 5)
        assert code == 4403


async def test_events_in_order_and_progress(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    session = (await _post(live_server, manager.token, q.CREATE_SESSION, name="Ao vivo"))[
        "createSession"
    ]["session"]
    sid = session["id"]
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        events = await ws.subscribe(EVENTS, sid=sid, after=0)
        progress = await ws.subscribe(PROGRESS, sid=sid)
        first = await ws.take(progress, 1)
        assert first[0]["total"] == 0
        replay = await ws.take(events, 1)
        assert replay[0]["action"] == "session.created" and replay[0]["sequence"] == 1
        await _post(
            live_server,
            manager.token,
            q.ADD_PACKAGES,
            sid=sid,
            packages=[{"barcode": "LIVE1"}, {"barcode": "LIVE2"}],
        )
        live = await ws.take(events, 2)
        assert [e["sequence"] for e in live] == [2, 3]
        assert [e["action"] for e in live] == ["package.added", "package.added"]
        assert live[0]["actor"]["id"] == manager.id
        assert live[-1]["progress"]["total"] == 2
        assert (await ws.take(progress, 1))[0]["total"] == 2


async def test_twenty_concurrent_writers_gapless(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = (await _post(live_server, manager.token, q.CREATE_SESSION, name="Corrida"))[
        "createSession"
    ]["session"]["id"]
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        await asyncio.sleep(0.3)
        await asyncio.gather(
            *[
                _post(
                    live_server,
                    manager.token,
                    q.ADD_PACKAGES,
                    sid=sid,
                    packages=[{"barcode": f"W{w:02d}-{i}"} for i in range(3)],
                )
                for w in range(20)
            ]
        )
        got = await ws.take(sub, 60, timeout=60)
        assert [e["sequence"] for e in got] == list(range(2, 62))


async def test_reconnect_with_after_sequence(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = (await _post(live_server, manager.token, q.CREATE_SESSION, name="Religa"))[
        "createSession"
    ]["session"]["id"]
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid, after=0)
        await _post(
            live_server,
            manager.token,
            q.ADD_PACKAGES,
            sid=sid,
            packages=[{"barcode": f"R{i}"} for i in range(5)],
        )
        seen = await ws.take(sub, 3)
    last = seen[-1]["sequence"]
    # Disconnected: more changes happen meanwhile.
    await _post(
        live_server,
        manager.token,
        q.ADD_PACKAGES,
        sid=sid,
        packages=[{"barcode": f"S{i}"} for i in range(4)],
    )
    async with WsClient(live_server.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid, after=last)
        writer = asyncio.create_task(
            _post(
                live_server,
                manager.token,
                q.ADD_PACKAGES,
                sid=sid,
                packages=[{"barcode": f"T{i}"} for i in range(3)],
            )
        )
        rest = await ws.take(sub, 10 - last + 3)
        await writer
    sequences = [e["sequence"] for e in seen] + [e["sequence"] for e in rest]
    assert sequences == list(range(1, 14)), "no gap, no duplicate"


async def test_visibility(live_server: LiveServer, make_user) -> None:  # type: ignore[no-untyped-def]
    owner = await make_user("MANAGER")
    other = await make_user("MANAGER")
    admin = await make_user("ADMIN")
    sid = (await _post(live_server, owner.token, q.CREATE_SESSION, name="Privada"))[
        "createSession"
    ]["session"]["id"]
    async with WsClient(live_server.ws_url, other.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid)
        msg = await ws.next(sub)
        assert msg["type"] in ("error", "next")
        errors = msg["payload"] if msg["type"] == "error" else msg["payload"].get("errors")
        assert errors and "not found" in errors[0]["message"]
        mine = await ws.subscribe(MINE)
        async with WsClient(live_server.ws_url, admin.token) as admin_ws:
            assert await admin_ws.acked()
            admin_mine = await admin_ws.subscribe(MINE)
            await asyncio.sleep(0.5)
            await _post(
                live_server, owner.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "VIS1"}]
            )
            seen = await admin_ws.take(admin_mine, 1)
            assert seen[0]["sessionId"] == sid and seen[0]["action"] == "package.added"
        # The other manager's front page never shows the owner's session.
        own_sid = (await _post(live_server, other.token, q.CREATE_SESSION, name="Minha"))[
            "createSession"
        ]["session"]["id"]
        await _post(
            live_server, other.token, q.ADD_PACKAGES, sid=own_sid, packages=[{"barcode": "VIS2"}]
        )
        got = await ws.take(mine, 1)
        assert got[0]["sessionId"] == own_sid


async def test_events_are_encoded_once_and_written_directly(
    live_server: LiveServer,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    """Subscribers of the same document and variables get the very same payload bytes; a
    completed operation gets nothing more; other documents still get their own selection."""
    manager = await make_user("MANAGER")
    sid = (await _post(live_server, manager.token, q.CREATE_SESSION, name="Direto"))[
        "createSession"
    ]["session"]["id"]
    narrow = "subscription($sid: ID!) { sessionEvents(sessionId: $sid) { sequence } }"
    async with (
        WsClient(live_server.ws_url, manager.token) as a,
        WsClient(live_server.ws_url, manager.token) as b,
    ):
        assert await a.acked() and await b.acked()
        a_events = await a.subscribe(EVENTS, sid=sid, after=None)
        b_stop = await b.subscribe(EVENTS, sid=sid, after=None)
        b_events = await b.subscribe(EVENTS, sid=sid, after=None)
        b_narrow = await b.subscribe(narrow, sid=sid)
        b_progress = await b.subscribe(PROGRESS, sid=sid)
        assert (await b.take(b_progress, 1))[0]["total"] == 0
        await asyncio.sleep(0.5)  # all four are live
        await _post(
            live_server, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "D1"}]
        )
        assert [e["sequence"] for e in await a.take(a_events, 1)] == [2]
        assert [e["sequence"] for e in await b.take(b_events, 1)] == [2]
        assert [e["sequence"] for e in await b.take(b_stop, 1)] == [2]
        assert await b.take(b_narrow, 1) == [{"sequence": 2}]
        assert (await b.take(b_progress, 1))[0]["total"] == 1

        def payload_text(client: WsClient, sub_id: str, sequence: int) -> str:
            marker = f'"id":"{sub_id}","payload":'
            found = [
                r
                for r in client.raw
                if marker in r
                and json.loads(r)["payload"]["data"]["sessionEvents"]["sequence"] == sequence
            ]
            assert len(found) == 1, (marker, client.raw)
            return found[0].split(marker, 1)[1]

        # The same bytes after each operation's own id: encoded once, not per subscriber.
        assert payload_text(a, a_events, 2) == payload_text(b, b_events, 2)
        assert payload_text(b, b_stop, 2) == payload_text(b, b_events, 2)

        await b.stop(b_stop)
        await asyncio.sleep(0.3)
        await _post(
            live_server, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "D2"}]
        )
        assert [e["sequence"] for e in await b.take(b_events, 1)] == [3]
        assert [e["sequence"] for e in await a.take(a_events, 1)] == [3]
        assert await b.take(b_narrow, 1) == [{"sequence": 3}]
        await asyncio.sleep(0.3)
        assert b.queues[b_stop].empty()  # nothing after `complete`
        assert not any(json.loads(r).get("id") == b_stop and '"sequence":3' in r for r in b.raw)
