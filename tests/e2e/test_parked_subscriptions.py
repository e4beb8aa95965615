"""Parked subscriptions (gql/live/direct.py), in-process so the hub can be looked at: an idle
`sessionEvents` holds no task; it is released on `complete`, on disconnect and when too slow."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from bipa.app import create_app
from bipa.settings import Settings
from live.hub import LiveHub
from tests.conftest import free_port
from tests.e2e import queries as q
from tests.e2e.test_subscriptions import _post as _gql
from tests.e2e.wsclient import EVENTS, MINE, PROGRESS, WsClient

pytestmark = pytest.mark.e2e


class App:
    def __init__(self, url: str, port: int, app: Any) -> None:
        self.url = url
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.app = app

    @property
    def hub(self) -> LiveHub:
        return self.app.state.services.live  # type: ignore[no-any-return]


@pytest.fixture
async def served(database_url: str) -> AsyncIterator[App]:
    settings = Settings.from_env(
        {"BROADCAST_URL": "memory://", "BIPA_RUN_WORKER": "false", "BIPA_RATE_LIMITS": "false"}
    )
    app = create_app(settings, database_url)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    try:
        yield App(f"http://127.0.0.1:{port}", port, app)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 20)


async def _session(served: App, token: str, name: str) -> tuple[str, uuid.UUID]:
    sid = (await _gql(served, token, q.CREATE_SESSION, name=name))["createSession"]["session"]["id"]
    return sid, uuid.UUID(sid)


async def _until(check: Any, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_idle_subscription_is_parked_and_released(served: App, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Estacionada")
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        first = await ws.subscribe(EVENTS, sid=sid, after=0)
        second = await ws.subscribe(EVENTS, sid=sid, after=None)
        assert [e["sequence"] for e in await ws.take(first, 1)] == [1]  # the replay, parked
        await _until(lambda: key in served.hub.feeds and len(served.hub.feeds[key].listeners) == 2)
        listeners = list(served.hub.feeds[key].listeners)
        assert all(listener.parked for listener in listeners)
        # Two subscriptions, yet no task of theirs is left: the operations' tasks ended, and
        # no writer runs while nothing arrives.
        parked = [listener.sink.__self__ for listener in listeners]  # type: ignore[union-attr]
        assert all(p.target.operation.task is None for p in parked)
        await _until(
            lambda: not any("run_operation" in repr(t.get_coro()) for t in asyncio.all_tasks())
        )
        assert all(p.writer is None for p in parked)
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "P1"}])
        assert [e["sequence"] for e in await ws.take(first, 1)] == [2]
        assert [e["sequence"] for e in await ws.take(second, 1)] == [2]
        await ws.stop(first)  # `complete`: released at once, the other one stays
        await _until(lambda: len(served.hub.feeds[key].listeners) == 1)
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "P2"}])
        assert [e["sequence"] for e in await ws.take(second, 1)] == [3]
        assert ws.queues[first].empty()
        # The id of the parked one is still taken until it is completed.
        again = await ws.subscribe(EVENTS, sid=sid, after=None)
        assert again not in (first, second)
    # Disconnect: the last listener goes, and the session's feed with it.
    await _until(lambda: key not in served.hub.feeds)


async def test_parked_subscriber_too_slow_is_closed_with_a_reason(served: App, make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Lenta")
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid, after=None)
        await _until(lambda: key in served.hub.feeds and served.hub.feeds[key].listeners)
        (listener,) = served.hub.feeds[key].listeners
        assert listener.parked
        listener.max_pending = 3
        await _gql(
            served,
            manager.token,
            q.ADD_PACKAGES,
            sid=sid,
            packages=[{"barcode": f"S{i}"} for i in range(6)],
        )
        error = await ws.next(sub)
        assert error["type"] == "next"
        assert error["payload"]["data"] is None
        assert error["payload"]["errors"][0]["extensions"]["code"] == "SLOW_SUBSCRIBER"
        assert (await ws.next(sub))["type"] == "complete"
        await _until(lambda: key not in served.hub.feeds)
        # Resuming with afterSequence gives everything, in order.
        resumed = await ws.subscribe(EVENTS, sid=sid, after=1)
        assert [e["sequence"] for e in await ws.take(resumed, 6)] == [2, 3, 4, 5, 6, 7]


async def test_resuming_dashboards_share_one_encoding_without_the_first_connection(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    """afterSequence only chooses events: subscribers resuming from different points share one
    group, and the group keeps no subscriber's connection."""
    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Grupo")
    async with (
        WsClient(served.ws_url, manager.token) as a,
        WsClient(served.ws_url, manager.token) as b,
    ):
        assert await a.acked() and await b.acked()
        from_start = await a.subscribe(EVENTS, sid=sid, after=0)
        live_only = await b.subscribe(EVENTS, sid=sid, after=None)
        assert [e["sequence"] for e in await a.take(from_start, 1)] == [1]
        await _until(lambda: key in served.hub.feeds and len(served.hub.feeds[key].listeners) == 2)
        groups = {listener.sink.__self__.group for listener in served.hub.feeds[key].listeners}  # type: ignore[union-attr]
        assert len(groups) == 1
        (group,) = groups
        assert group.executor.context_value is None
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "G1"}])
        assert [e["sequence"] for e in await a.take(from_start, 1)] == [2]
        assert [e["sequence"] for e in await b.take(live_only, 1)] == [2]


async def test_a_parked_subscription_that_fails_says_so_and_frees_its_id(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    """A failed read of missing entries: the client gets an error and `complete`, not silence."""
    import dataclasses
    import json

    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Falha")
    hub = served.hub
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        sub = await ws.subscribe(EVENTS, sid=sid, after=None)
        await _until(lambda: key in hub.feeds and hub.feeds[key].listeners)
        (listener,) = hub.feeds[key].listeners
        (stored,) = await hub.fetch(key, 0, None)
        gapped = dataclasses.replace(stored, sequence=listener.last[key] + 3)

        async def failing(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionResetError("database went away")

        hub.fetch = failing  # type: ignore[method-assign]
        try:
            listener.deliver([gapped])  # a gap: the writer must read 2..3, and cannot
            error = await ws.next(sub)
        finally:
            del hub.fetch
        assert error["type"] == "next"
        assert error["payload"]["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert "database" not in json.dumps(error)  # nothing internal leaks
        assert (await ws.next(sub))["type"] == "complete"
        # The id is free again, and resuming gives the stored entries.
        await ws.ws.send(
            json.dumps(
                {
                    "id": sub,
                    "type": "subscribe",
                    "payload": {"query": EVENTS, "variables": {"sid": sid, "after": 0}},
                }
            )
        )
        assert [e["sequence"] for e in await ws.take(sub, 1)] == [1]


async def test_a_closed_connection_is_not_kept_by_the_feed_it_started(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    """The session's feed and pub/sub task outlive the subscriber that started them; they must
    not keep that subscriber's connection alive."""
    import gc
    import weakref

    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Memoria")
    async with WsClient(served.ws_url, manager.token) as stays:
        assert await stays.acked()
        async with WsClient(served.ws_url, manager.token) as first:
            assert await first.acked()
            await first.subscribe(EVENTS, sid=sid, after=None)
            await _until(lambda: key in served.hub.feeds and served.hub.feeds[key].listeners)
            (listener,) = served.hub.feeds[key].listeners
            handler = weakref.ref(listener.sink.__self__.target.handler)  # type: ignore[union-attr]
            del listener
            sub = await stays.subscribe(EVENTS, sid=sid, after=None)
            await _until(lambda: len(served.hub.feeds[key].listeners) == 2)
        await _until(lambda: len(served.hub.feeds[key].listeners) == 1)
        await asyncio.sleep(0.1)
        gc.collect()
        assert handler() is None, gc.get_referrers(handler())
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "M1"}])
        assert [e["sequence"] for e in await stays.take(sub, 1)] == [2]


async def test_progress_and_front_page_subscriptions_park_too(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    manager = await make_user("MANAGER")
    other = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Progresso")
    hub = served.hub
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        progress = await ws.subscribe(PROGRESS, sid=sid)
        assert (await ws.take(progress, 1))[0]["total"] == 0
        mine = await ws.subscribe(MINE)
        await _until(lambda: key in hub.feeds and hub.discoverers)
        await _until(
            lambda: all(lst.parked for lst in [*hub.feeds[key].listeners, *hub.discoverers])
        )
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "Q1"}])
        assert (await ws.take(progress, 1))[0]["total"] == 1
        assert [(e["sessionId"], e["sequence"]) for e in await ws.take(mine, 1)] == [(sid, 2)]
        # A session created later is discovered by the parked front page; a stranger's is not.
        await _gql(served, other.token, q.CREATE_SESSION, name="Alheia")
        new = (await _gql(served, manager.token, q.CREATE_SESSION, name="Nova"))["createSession"][
            "session"
        ]["id"]
        assert [(e["sessionId"], e["action"]) for e in await ws.take(mine, 1)] == [
            (new, "session.created")
        ]
        # An event that leaves the progress as it was sends no progress message.
        reused = await _gql(served, manager.token, q.session_action("reuseSession"), sid=sid)
        assert reused["reuseSession"]["__typename"] == "SessionSuccess"
        assert [e["action"] for e in await ws.take(mine, 1)] == ["session.reused"]
        await asyncio.sleep(0.3)
        assert ws.queues[progress].empty()
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "Q2"}])
        assert (await ws.take(progress, 1))[0]["total"] == 2
        await ws.stop(mine)
        await _until(lambda: not hub.discoverers)
    await _until(lambda: key not in hub.feeds)


FRAGMENT_DOC = """subscription($sid: ID!, $after: Int, $withActor: Boolean!) {
  sessionEvents(sessionId: $sid, afterSequence: $after) { ...F } }
fragment F on SessionEvent { sequence action actor @include(if: $withActor) { id } }"""


async def test_fragments_and_variables_below_the_root_split_groups_correctly(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    manager = await make_user("MANAGER")
    sid, key = await _session(served, manager.token, "Fragmentos")
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        with_actor = await ws.subscribe(FRAGMENT_DOC, sid=sid, after=0, withActor=True)
        resumed = await ws.subscribe(FRAGMENT_DOC, sid=sid, after=1, withActor=True)
        without = await ws.subscribe(FRAGMENT_DOC, sid=sid, after=None, withActor=False)
        first = (await ws.take(with_actor, 1))[0]
        assert first["sequence"] == 1 and first["actor"]["id"] == manager.id
        await _until(lambda: key in served.hub.feeds and len(served.hub.feeds[key].listeners) == 3)
        parked = {
            listener.sink.__self__.target.operation.id: listener.sink.__self__  # type: ignore[union-attr]
            for listener in served.hub.feeds[key].listeners
        }
        # afterSequence only chooses events; withActor changes the payload.
        assert parked[with_actor].group is parked[resumed].group
        assert parked[with_actor].group is not parked[without].group
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "F1"}])
        (a,) = await ws.take(with_actor, 1)
        (b,) = await ws.take(resumed, 1)
        (c,) = await ws.take(without, 1)
        assert a == b == {"sequence": 2, "action": "package.added", "actor": {"id": manager.id}}
        assert c == {"sequence": 2, "action": "package.added"}


async def test_front_page_discovery_sends_each_event_once_and_stops_when_closed(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    from collections import Counter

    manager = await make_user("MANAGER")
    hub = served.hub
    async with WsClient(served.ws_url, manager.token) as ws:
        assert await ws.acked()
        mine = await ws.subscribe(MINE)
        await _until(lambda: hub.discoverers and all(lst.parked for lst in hub.discoverers))
        # Each new session is discovered twice (local commit and pub/sub echo): once is enough.
        created = [(await _session(served, manager.token, f"D{i}"))[0] for i in range(30)]
        events = await ws.take(mine, 30)
        assert sorted(e["sessionId"] for e in events) == sorted(created)
        await asyncio.sleep(0.5)
        assert ws.queues[mine].empty(), "an event was sent twice"
        assert Counter((e["sessionId"], e["sequence"]) for e in events).most_common(1)[0][1] == 1

        # Completed while a discovery is in flight: the session's feed must not keep it.
        real = hub.store.audience
        gate, started = asyncio.Event(), asyncio.Event()

        async def slow(session_id: uuid.UUID, viewers: Any) -> Any:
            started.set()
            await gate.wait()
            return await real(session_id, viewers)

        hub.store.audience = slow  # type: ignore[method-assign]
        _, key = await _session(served, manager.token, "Corrida")
        await asyncio.wait_for(started.wait(), 5)
        await ws.stop(mine)
        await _until(lambda: not hub.discoverers)
        gate.set()
        await asyncio.sleep(0.3)
        del hub.store.audience
        assert key not in hub.feeds


async def test_without_a_websocket_the_resolvers_yield(
    served: App,
    make_user,  # type: ignore[no-untyped-def]
) -> None:
    """`schema.subscribe` in-process has no socket to park on: the same resolvers then yield
    each event (and each progress change) through Strawberry."""
    from gql.context import Context
    from gql.schema import build_schema

    manager = await make_user("MANAGER")
    sid, _ = await _session(served, manager.token, "Sem socket")
    schema = build_schema()
    context = Context(request=None, services=served.app.state.services, token=manager.token)  # type: ignore[arg-type]
    events = await schema.subscribe(EVENTS, {"sid": sid, "after": 0}, context_value=context)
    progress = await schema.subscribe(PROGRESS, {"sid": sid}, context_value=context)
    try:
        first = await asyncio.wait_for(anext(events), 5)  # type: ignore[arg-type]
        assert first.errors is None and first.data["sessionEvents"]["sequence"] == 1
        start = await asyncio.wait_for(anext(progress), 5)  # type: ignore[arg-type]
        assert start.data["sessionProgress"]["total"] == 0
        await _gql(served, manager.token, q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "Y1"}])
        second = await asyncio.wait_for(anext(events), 5)  # type: ignore[arg-type]
        assert second.data["sessionEvents"]["action"] == "package.added"
        moved = await asyncio.wait_for(anext(progress), 5)  # type: ignore[arg-type]
        assert moved.data["sessionProgress"]["total"] == 1
    finally:
        await events.aclose()  # type: ignore[union-attr]
        await progress.aclose()  # type: ignore[union-attr]
