"""Requests made to hurt: exponential fragments, malformed bodies, lone surrogates, several
operations, too many nodes, too many websockets. Each is refused with a coded error, fast,
as a 4xx, with nothing written and no traceback in the server's log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.e2e.wsclient import WsClient

pytestmark = pytest.mark.e2e


def doubling(levels: int) -> str:
    """Fragments that each spread the next one twice: 2**levels spreads once expanded."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels - 1)]
    fragments.append(f"fragment F{levels - 1} on Query {{ __typename }}")
    return "query { ...F0 }\n" + "\n".join(fragments)


def chain(length: int) -> str:
    fragments = [f"fragment C{i} on Query {{ ...C{i + 1} }}" for i in range(length - 1)]
    fragments.append(f"fragment C{length - 1} on Query {{ __typename }}")
    return "query { ...C0 }\n" + "\n".join(fragments)


def codes(body: dict[str, Any]) -> set[str]:
    return {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}


@pytest.fixture
def log_of(live_server: LiveServer) -> Callable[[], Iterator[str]]:
    """The server log lines written from now on."""
    start = len(live_server.log_text())
    return lambda: iter(live_server.log_text()[start:].splitlines())


def assert_quiet(lines: Iterator[str]) -> None:
    for line in lines:
        assert "Traceback" not in line, line
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        assert entry.get("level") != "ERROR", line


async def test_fragment_doubling_is_refused_at_once_and_health_stays_fast(
    live_server: LiveServer, log_of: Callable[[], Iterator[str]]
) -> None:
    doc = doubling(30)
    assert len(doc) < 2_000
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        timings = []
        for i in range(5):
            # One character changed each time: no cache may be what makes it fast.
            started = time.perf_counter()
            r = await client.post("/graphql", json={"query": doc + f"\n# {i}"})
            timings.append(time.perf_counter() - started)
            assert r.status_code == 200, r.text
            assert codes(r.json()) == {"QUERY_TOO_COMPLEX"}, r.text
        assert min(timings) < 0.05, f"refusing took {min(timings) * 1000:.0f} ms"

        async def attack(i: int) -> httpx.Response:
            return await client.post("/graphql", json={"query": doubling(28 + i % 3) + f"#{i}"})

        attacks = [asyncio.create_task(attack(i)) for i in range(20)]
        started = time.perf_counter()
        health = await client.get("/healthz")
        health_s = time.perf_counter() - started
        answers = await asyncio.gather(*attacks)
    assert health.status_code == 200 and health_s < 1.0, f"/healthz took {health_s:.2f} s"
    assert all(codes(a.json()) == {"QUERY_TOO_COMPLEX"} for a in answers)
    assert_quiet(log_of())


async def test_repeated_fields_that_make_validation_quadratic_are_refused(
    make_user: Callable[..., Any], live_server: LiveServer
) -> None:
    # Under the token limit, 1,200 copies of `me { id }` cost graphql-core's overlapping-fields
    # rule about a second of blocked event loop each; they are refused before it runs.
    admin = await make_user("ADMIN")
    doc = "{ " + " ".join(["me { id }"] * 1200) + " }"
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        timings = []
        for i in range(3):
            started = time.perf_counter()
            r = await client.post(
                "/graphql",
                json={"query": doc + f"\n# {i}"},
                headers={"authorization": f"Bearer {admin.token}"},
            )
            timings.append(time.perf_counter() - started)
            assert codes(r.json()) == {"QUERY_TOO_COMPLEX"}, r.text
    assert min(timings) < 0.1, timings
    fine = admin.raw("{ " + " ".join(["me { id }"] * 10) + " }")
    assert "errors" not in fine, fine
    too_many = admin.raw("{ " + " ".join(["me { id }"] * 11) + " }")
    assert codes(too_many) == {"QUERY_TOO_COMPLEX"}


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"12",
        b'"x"',
        b"[]",
        b"{",
        b"\xff\xfe{}",  # not UTF-8
        b'{"query": "\xc0\xafx"}',  # overlong UTF-8
        b"[" * 100_000 + b"]" * 100_000,  # nested past the decoder's recursion limit
        b'{"query": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    ],
    ids=[
        "null",
        "number",
        "string",
        "list",
        "truncated",
        "bad-utf8",
        "overlong-utf8",
        "deep",
        "deep-query",
    ],
)
async def test_malformed_bodies_are_a_coded_400(
    live_server: LiveServer, log_of: Callable[[], Iterator[str]], body: bytes
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        r = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.headers["content-type"].startswith("application/json")
    assert codes(r.json()) <= {"BAD_REQUEST", "BAD_USER_INPUT"} and codes(r.json()), r.text
    assert_quiet(log_of())


async def test_long_fragment_chains_and_deep_nesting_are_refused_with_a_code(
    make_user: Callable[..., Any], log_of: Callable[[], Iterator[str]]
) -> None:
    admin = await make_user("ADMIN")
    ok = admin.raw(chain(15))
    assert "errors" not in ok, ok
    for doc in (chain(300), chain(1000), "{" + "__typename {" * 400 + "}" * 401):
        body = admin.raw(doc)
        assert body.get("data") is None
        assert codes(body) == {"QUERY_TOO_COMPLEX"}, body
        assert "recursion" not in json.dumps(body)
    assert_quiet(log_of())


async def test_lone_surrogates_are_bad_user_input_before_any_sql(
    make_user: Callable[..., Any], log_of: Callable[[], Iterator[str]]
) -> None:
    manager = await make_user("MANAGER")
    before = manager(q.SESSIONS_COUNT)["sessions"]["totalCount"]

    def send(doc: str, variables: dict[str, Any]) -> dict[str, Any]:
        # As a JSON escape: the lone surrogate is what json.loads makes of "\ud800".
        raw = json.dumps({"query": doc, "variables": variables}, ensure_ascii=True)
        r = manager.client.post(
            "/graphql",
            content=raw.encode(),
            headers={
                "authorization": f"Bearer {manager.token}",
                "content-type": "application/json",
            },
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    for name in ("\ud800", "ok \udfff ok"):
        body = send(q.CREATE_SESSION, {"name": name})
        assert codes(body) == {"BAD_USER_INPUT"}, body
    # In the document itself, raw or as a GraphQL escape, graphql-core's lexer refuses it.
    literal = send('mutation { createSession(input: {name: "\ud800"}) { __typename } }', {})
    assert codes(literal) == {"GRAPHQL_PARSE_FAILED"}, literal
    escaped = send('mutation { createSession(input: {name: "\\ud800"}) { __typename } }', {})
    assert codes(escaped) == {"GRAPHQL_PARSE_FAILED"}, escaped
    assert manager(q.SESSIONS_COUNT)["sessions"]["totalCount"] == before
    assert_quiet(log_of())


async def test_several_operations_need_an_operation_name(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    before = manager(q.SESSIONS_COUNT)["sessions"]["totalCount"]
    doc = (
        'mutation One { createSession(input: {name: "One"}) { __typename } }\n'
        'mutation Two { createSession(input: {name: "Two"}) { __typename } }'
    )
    body = manager.raw(doc)
    assert body.get("data") is None and codes(body) == {"GRAPHQL_VALIDATION_FAILED"}, body
    assert manager(q.SESSIONS_COUNT)["sessions"]["totalCount"] == before, "one of them ran"
    chosen = manager.client.post(
        "/graphql",
        json={"query": doc, "operationName": "Two"},
        headers={"authorization": f"Bearer {manager.token}"},
    ).json()
    assert chosen["data"]["createSession"]["__typename"] == "SessionSuccess"


async def test_a_query_that_may_return_too_many_nodes_is_refused(
    make_user: Callable[..., Any],
) -> None:
    manager = await make_user("MANAGER")
    big = "{ sessions(first: 1000) { edges { node { packages(first: 1000) { totalCount } } } } }"
    assert codes(manager.raw(big)) == {"QUERY_TOO_COMPLEX"}
    by_variable = "query($n: Int) { sessions(first: 1000) { edges { node { packages(first: $n) { totalCount } } } } }"
    assert codes(manager.raw(by_variable, {"n": 1000})) == {"QUERY_TOO_COMPLEX"}
    fine = manager.raw(by_variable, {"n": 10})
    assert "errors" not in fine, fine


async def refused_with(url: str, token: str) -> int:
    """The close code of a connection the server refuses (at the handshake or at init)."""
    try:
        client = await WsClient(url, token).__aenter__()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 0
    try:
        assert not await client.acked(timeout=5), "acknowledged over the cap"
        assert client.closed is not None
        return (await client.closed)[0]
    finally:
        with contextlib.suppress(Exception):
            await client.__aexit__()


async def test_websockets_per_token_and_per_address_are_capped(
    database_url: str, make_user: Callable[..., Any]
) -> None:
    server = LiveServer(
        database_url,
        {"BIPA_RUN_WORKER": "false", "BIPA_MAX_WS_PER_TOKEN": "3", "BIPA_MAX_WS_PER_IP": "5"},
    ).start()
    try:
        ana: Caller = await make_user("DELIVERER")
        bia: Caller = await make_user("DELIVERER")
        opened = []
        for _ in range(3):
            client = await WsClient(server.ws_url, ana.token).__aenter__()
            assert await client.acked()
            opened.append(client)
        assert await refused_with(server.ws_url, ana.token) == 4429
        for _ in range(2):  # another token, same address: up to the address's cap of 5
            client = await WsClient(server.ws_url, bia.token).__aenter__()
            assert await client.acked()
            opened.append(client)
        assert await refused_with(server.ws_url, bia.token) == 4429
        await opened.pop(0).__aexit__()  # one of ana's closes: she may open one again
        await asyncio.sleep(0.3)
        again = await WsClient(server.ws_url, ana.token).__aenter__()
        assert await again.acked()
        opened.append(again)
        for client in opened:
            await client.__aexit__()
    finally:
        server.stop()
