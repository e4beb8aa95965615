"""Rate limits, tripped on a live server: per token, per address, failed authentications,
websocket connects and scanBarcode; with the counts in memory and in Redis (shared by two
processes). Each test speaks from its own random loopback address (127.x.y.z), so counts of
one test, or of an earlier run kept in Redis, never meet another's.
"""

from __future__ import annotations

import io
import json
import random
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import CI, LiveServer

pytestmark = pytest.mark.e2e

REDIS = "redis://127.0.0.1:6379/15"
LIMITS = {
    "BIPA_RUN_WORKER": "false",
    "BIPA_RATE_LIMITS": "true",
    "BIPA_RATE_LIMIT_IP": "12/minute",
    "BIPA_RATE_LIMIT_TOKEN": "5/minute",
    "BIPA_RATE_LIMIT_AUTH": "4/minute",
    "BIPA_RATE_LIMIT_WS": "3/minute",
    "BIPA_RATE_LIMIT_SCAN": "2/minute",
}
ME = {"query": "{ me { id } }"}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module", params=["memory", "redis"])
def servers(request: pytest.FixtureRequest, database_url: str) -> Iterator[list[LiveServer]]:
    """One server with counts in memory; or two sharing theirs through Redis."""
    env = dict(LIMITS)
    count = 1
    if request.param == "redis":
        if not _redis_up():
            if CI:
                pytest.fail("Redis is not running on 127.0.0.1:6379")
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        env["BIPA_RATE_LIMIT_STORAGE"] = REDIS
        count = 2
    started = [LiveServer(database_url, env).start() for _ in range(count)]
    yield started
    for server in started:
        server.stop()


def _address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def _client(server: LiveServer, address: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=30)


def _limited(response: httpx.Response) -> int:
    """The Retry-After of a refusal, checked to be the coded one."""
    assert response.status_code == 429, response.text
    retry = int(response.headers["retry-after"])
    assert 1 <= retry <= 60
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "retry in" in error["message"]
    return retry


def _spread(servers: list[LiveServer], address: str, n: int) -> Iterator[httpx.Client]:
    """n clients from one address, taking turns over the servers (Redis: shared counts)."""
    clients = [_client(s, address) for s in servers]
    try:
        for i in range(n):
            yield clients[i % len(clients)]
    finally:
        for c in clients:
            c.close()


async def test_per_token(servers: list[LiveServer], make_user: Callable[..., Any]) -> None:
    ana = await make_user("MANAGER")
    bia = await make_user("MANAGER")
    address = _address()
    auth = {"authorization": f"Bearer {ana.token}"}
    answers = [c.post("/graphql", json=ME, headers=auth) for c in _spread(servers, address, 6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5
    assert _limited(answers[5]) >= 1
    with _client(servers[-1], address) as client:  # another token from the same address
        other = client.post("/graphql", json=ME, headers={"authorization": f"Bearer {bia.token}"})
        assert other.status_code == 200 and other.json()["data"]["me"]["id"] == bia.id


async def test_per_address(servers: list[LiveServer]) -> None:
    address = _address()
    answers = [
        c.post("/graphql", json={"query": "{ __typename }"}) for c in _spread(servers, address, 13)
    ]
    assert [a.status_code for a in answers[:12]] == [200] * 12
    _limited(answers[12])
    with _client(servers[0], _address()) as elsewhere:
        assert elsewhere.post("/graphql", json={"query": "{ __typename }"}).status_code == 200


async def test_failed_authentications_block_the_address(
    servers: list[LiveServer], make_user: Callable[..., Any]
) -> None:
    ana = await make_user("MANAGER")
    address = _address()
    for c in _spread(servers, address, 4):
        wrong = c.post("/graphql", json=ME, headers={"authorization": "Bearer not-a-token"})
        assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with _client(servers[-1], address) as client:
        # Even a right token, from there, waits now.
        _limited(client.post("/graphql", json=ME, headers={"authorization": f"Bearer {ana.token}"}))
    code, reason = await _ws_close(servers[0], address, ana.token)
    assert code == 4429 and "retry in" in reason
    with _client(servers[0], _address()) as elsewhere:
        fine = elsewhere.post("/graphql", json=ME, headers={"authorization": f"Bearer {ana.token}"})
        assert fine.status_code == 200


async def _ws_close(server: LiveServer, address: str, token: str) -> tuple[int, str]:
    """Connects and inits; the close code and reason, or (0, "") when acknowledged."""
    async with websockets.connect(
        server.ws_url, subprotocols=["graphql-transport-ws"], local_addr=(address, 0)
    ) as ws:
        try:
            await ws.send(
                json.dumps(
                    {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
                )
            )
            message = json.loads(await ws.recv())
            assert message["type"] == "connection_ack"
            return 0, ""
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd is not None
            return closed.rcvd.code, closed.rcvd.reason


async def test_websocket_connects(servers: list[LiveServer], make_user: Callable[..., Any]) -> None:
    ana = await make_user("MANAGER")
    address = _address()
    for i in range(3):
        assert await _ws_close(servers[i % len(servers)], address, ana.token) == (0, "")
    code, reason = await _ws_close(servers[-1], address, ana.token)
    assert code == 4429
    assert reason.startswith("Too many requests: retry in ")


SCAN = """mutation($input: ScanBarcodeInput!) {
  scanBarcode(input: $input) { __typename ... on Error { code } }
}"""


async def test_scan_barcode_is_tighter(
    servers: list[LiveServer], make_user: Callable[..., Any]
) -> None:
    deliverer = await make_user("DELIVERER")
    address = _address()
    variables = {"input": {"sessionId": str(uuid.uuid4()), "image": None, "intent": "IDENTIFY"}}
    answers = []
    for c in _spread(servers, address, 3):
        answers.append(
            c.post(
                "/graphql",
                data={
                    "operations": json.dumps({"query": SCAN, "variables": variables}),
                    "map": json.dumps({"0": ["variables.input.image"]}),
                },
                files={"0": ("photo.png", io.BytesIO(b"\x89PNG not really"), "image/png")},
                headers={"authorization": f"Bearer {deliverer.token}"},
            )
        )
    # Counted before anything else: the first two are refused by the domain, as data.
    for first in answers[:2]:
        assert first.status_code == 200 and first.json()["data"]["scanBarcode"]["code"]
    _limited(answers[2])
    with _client(servers[0], address) as client:  # other operations of that user go on
        other = client.post(
            "/graphql", json=ME, headers={"authorization": f"Bearer {deliverer.token}"}
        )
        assert other.status_code == 200


def test_refusals_are_counted_in_metrics(servers: list[LiveServer]) -> None:
    address = _address()
    for c in _spread(servers, address, 13):
        c.post("/graphql", json={"query": "{ __typename }"})
    scraped = httpx.get(servers[0].url + "/metrics").text
    counted = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        if line.startswith("bipa_rate_limited_total{")
    }
    assert counted.get("http_ip", 0) >= 1, scraped
