"""Idempotent replays over real HTTP.

A retry with the same idempotencyKey and input, by the same caller, returns the first result
and does nothing again, even when the first response was never read or both copies race.
The same key with another input is an IdempotencyConflictError; another caller's key is
independent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.conftest import Caller

COUNTS = """query($id: ID!) { session(id: $id) {
  status lastSequence reuseCount
  progress { total pending pickedUp delivered failed }
  deliverers { id packagesAssigned packagesDelivered totalEarned }
  packages(first: 1000) { totalCount edges { node { id barcode status deliverer { id } } } }
  audit(first: 1000) { totalCount edges { node { sequence action } } }
} }"""

OWN_SESSIONS = """query($o: ID!) { sessions(ownerId: $o, first: 1000) {
  edges { node { id name } } } }"""


def key() -> str:
    return f"idem-{uuid.uuid4()}"


def counts(caller: Caller, sid: str) -> dict[str, Any]:
    return caller(COUNTS, id=sid)["session"]  # type: ignore[no-any-return]


def named(caller: Caller, name: str) -> list[str]:
    edges = caller(OWN_SESSIONS, o=caller.id)["sessions"]["edges"]
    return [e["node"]["id"] for e in edges if e["node"]["name"] == name]


def new_session(manager: Caller, barcodes: list[str] | None = None) -> tuple[str, list[str]]:
    sid = manager(q.CREATE_SESSION, name="Idempotência")["createSession"]["session"]["id"]
    pids: list[str] = []
    if barcodes:
        added = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": b} for b in barcodes])
        pids = [p["id"] for p in added["addPackages"]["added"]]
    return sid, pids


async def test_create_session_replay(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    k, name = key(), f"Replay {uuid.uuid4().hex[:6]}"
    first = manager(q.CREATE_SESSION, name=name, key=k)["createSession"]
    second = manager(q.CREATE_SESSION, name=name, key=k)["createSession"]
    assert first["__typename"] == second["__typename"] == "SessionSuccess"
    assert second["session"]["id"] == first["session"]["id"]
    assert second["session"]["lastSequence"] == 1
    assert named(manager, name) == [first["session"]["id"]]
    # Without a key the same input is a new session: the key is what deduplicates.
    third = manager(q.CREATE_SESSION, name=name)["createSession"]
    assert third["session"]["id"] != first["session"]["id"]
    assert len(named(manager, name)) == 2


async def test_add_packages_replay_returns_the_first_result(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager, ["LBR-0"])
    k = key()
    batch = [
        {"barcode": "7891000315507", "address": {"line": "Rua A, 1"}},
        {"barcode": "96385074"},
        {"barcode": "LBR-0"},  # already in the session
        {"barcode": "4006381333932", "symbology": "EAN13"},  # read as EAN-13: bad check digit
    ]
    first = manager(q.ADD_PACKAGES, sid=sid, packages=batch, key=k)["addPackages"]
    assert first["__typename"] == "AddPackagesSuccess" and len(first["added"]) == 2
    before = counts(manager, sid)
    for _ in range(2):
        again = manager(q.ADD_PACKAGES, sid=sid, packages=batch, key=k)["addPackages"]
        assert again["__typename"] == "AddPackagesSuccess"
        assert [p["id"] for p in again["added"]] == [p["id"] for p in first["added"]]
        assert again["duplicates"] == first["duplicates"] == ["LBR-0"]
        assert again["rejected"] == first["rejected"]
        assert counts(manager, sid) == before
    assert before["packages"]["totalCount"] == 3
    assert before["audit"]["totalCount"] == before["lastSequence"] == 4


async def test_update_status_replay_does_not_pay_twice(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    courier = await make_user("DELIVERER")
    sid, pids = new_session(manager, ["7891000315507", "96385074"])
    did = manager(q.ADD_DELIVERER, sid=sid, uid=courier.id, base="100.00", commission="2.50")[
        "addDeliverer"
    ]["deliverer"]["id"]
    manager(q.ASSIGN, sid=sid, pids=pids, did=did)
    manager(q.session_action("startSession"), sid=sid)
    k = key()
    first = courier(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED", key=k)
    assert first["updatePackageStatus"]["__typename"] == "PackageSuccess"
    before = counts(manager, sid)
    again = courier(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED", key=k)
    assert again["updatePackageStatus"]["__typename"] == "PackageSuccess"
    assert again["updatePackageStatus"]["package"]["id"] == pids[0]
    after = counts(manager, sid)
    assert after == before
    assert after["deliverers"][0]["packagesDelivered"] == 1
    assert after["deliverers"][0]["totalEarned"] == "102.50"
    # The same change without the key is refused: DELIVERED is final.
    plain = courier(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED")["updatePackageStatus"]
    assert plain["__typename"] == "InvalidTransitionError"


async def test_session_actions_replay(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager, ["7891000315507"])

    def twice(action: str, **extra: Any) -> None:
        k = key()
        doc = q.COMPLETE if action == "completeSession" else q.session_action(action)
        first = manager(doc, sid=sid, key=k, **extra)[action]
        assert first["__typename"] == "SessionSuccess", (action, first)
        before = counts(manager, sid)
        again = manager(doc, sid=sid, key=k, **extra)[action]
        assert again["__typename"] == "SessionSuccess", (action, again)
        assert again["session"]["id"] == sid
        assert counts(manager, sid) == before, action

    twice("reuseSession")
    assert counts(manager, sid)["reuseCount"] == 1, "a replayed reuse does not count again"
    twice("startSession")
    twice("pauseSession")
    twice("resumeSession")
    twice("completeSession", force=True)
    twice("archiveSession")
    final = counts(manager, sid)
    assert final["status"] == "ARCHIVED"
    actions = [e["node"]["action"] for e in final["audit"]["edges"]]
    for action in ("session.reused", "session.started", "session.paused", "session.resumed"):
        assert actions.count(action) == 1, action
    assert actions.count("session.completed") == 1 and actions.count("session.archived") == 1


async def test_remove_add_deliverer_and_assign_replays(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    courier = await make_user("DELIVERER")
    sid, pids = new_session(manager, ["7891000315507", "96385074", "LBR-9"])

    k = key()
    first = manager(q.REMOVE, pid=pids[2], key=k)["removePackage"]
    assert first["__typename"] == "PackageSuccess" and first["package"]["barcode"] == "LBR-9"
    before = counts(manager, sid)
    again = manager(q.REMOVE, pid=pids[2], key=k)["removePackage"]
    assert again["__typename"] == "PackageSuccess"
    assert again["package"] == first["package"], "the removed package, as it was"
    assert counts(manager, sid) == before and before["packages"]["totalCount"] == 2

    k = key()
    args = {"sid": sid, "uid": courier.id, "base": "10.00", "commission": "1.10"}
    first = manager(q.ADD_DELIVERER, key=k, **args)["addDeliverer"]
    assert first["__typename"] == "AddDelivererSuccess"
    before = counts(manager, sid)
    again = manager(q.ADD_DELIVERER, key=k, **args)["addDeliverer"]
    assert again["__typename"] == "AddDelivererSuccess", "not 'already in the session'"
    assert again["deliverer"]["id"] == first["deliverer"]["id"]
    assert counts(manager, sid) == before and len(before["deliverers"]) == 1

    k = key()
    did = first["deliverer"]["id"]
    one = manager(q.ASSIGN, sid=sid, pids=pids[:2], did=did, key=k)["assignPackages"]
    before = counts(manager, sid)
    two = manager(q.ASSIGN, sid=sid, pids=pids[:2], did=did, key=k)["assignPackages"]
    assert one["__typename"] == two["__typename"] == "AssignPackagesSuccess"
    assert [p["id"] for p in two["packages"]] == [p["id"] for p in one["packages"]]
    assert counts(manager, sid) == before
    assert before["deliverers"][0]["packagesAssigned"] == 2


async def test_same_key_other_input_is_a_conflict(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager)
    k = key()
    first = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "LBR-1"}], key=k)
    assert first["addPackages"]["__typename"] == "AddPackagesSuccess"
    before = counts(manager, sid)
    other = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "LBR-2"}], key=k)
    assert other["addPackages"]["__typename"] == "IdempotencyConflictError"
    assert other["addPackages"]["message"]
    # The same key on another operation is a conflict too.
    start = manager(q.session_action("startSession"), sid=sid, key=k)["startSession"]
    assert start["__typename"] == "IdempotencyConflictError"
    session = manager(q.CREATE_SESSION, name="Outra", key=k)["createSession"]
    assert session["__typename"] == "IdempotencyConflictError"
    assert counts(manager, sid) == before
    assert named(manager, "Outra") == []
    # And the original replay still works afterwards.
    again = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "LBR-1"}], key=k)
    assert again["addPackages"]["added"] == first["addPackages"]["added"]


async def test_same_key_by_another_caller_is_independent(make_user: Callable[..., Any]) -> None:
    ana, bia = await make_user("MANAGER"), await make_user("MANAGER")
    k = key()
    a = ana(q.CREATE_SESSION, name="Da Ana", key=k)["createSession"]
    b = bia(q.CREATE_SESSION, name="Da Bia", key=k)["createSession"]
    assert a["__typename"] == b["__typename"] == "SessionSuccess"
    assert a["session"]["id"] != b["session"]["id"]
    assert b["session"]["owner"]["id"] == bia.id and b["session"]["name"] == "Da Bia"
    # Same key, same input, two callers: still two sessions.
    k2 = key()
    x = ana(q.CREATE_SESSION, name="Igual", key=k2)["createSession"]["session"]["id"]
    y = bia(q.CREATE_SESSION, name="Igual", key=k2)["createSession"]["session"]["id"]
    assert x != y and named(ana, "Igual") == [x] and named(bia, "Igual") == [y]


async def test_key_length_is_validated(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    for bad in ("", "k" * 201):
        r = manager(q.CREATE_SESSION, name="Chave ruim", key=bad)["createSession"]
        assert r["__typename"] == "ValidationError" and r["field"] == "idempotencyKey"
    assert named(manager, "Chave ruim") == []
    ok = manager(q.CREATE_SESSION, name="Chave longa", key="k" * 200)["createSession"]
    assert ok["__typename"] == "SessionSuccess"


async def test_a_refused_call_does_not_burn_its_key(make_user: Callable[..., Any]) -> None:
    """A failure rolls the key back with everything else: the retry really runs."""
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager)
    k = key()
    empty = manager(q.session_action("startSession"), sid=sid, key=k)["startSession"]
    assert empty["__typename"] == "ValidationError"
    manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "LBR-3"}])
    retry = manager(q.session_action("startSession"), sid=sid, key=k)["startSession"]
    assert retry["__typename"] == "SessionSuccess" and retry["session"]["status"] == "ACTIVE"


def _post_and_hang_up(server: LiveServer, token: str, body: dict[str, Any]) -> None:
    """Sends a whole request, then closes the socket without reading the answer."""
    payload = json.dumps(body).encode()
    head = (
        "POST /graphql HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + payload)


async def test_replay_after_an_unread_response(
    live_server: LiveServer, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager)
    k = key()
    packages = [{"barcode": "7891000315507"}, {"barcode": "LBR-77"}]
    _post_and_hang_up(
        live_server,
        manager.token,
        {"query": q.ADD_PACKAGES, "variables": {"sid": sid, "packages": packages, "key": k}},
    )
    deadline = time.monotonic() + 10
    while counts(manager, sid)["packages"]["totalCount"] < 2:
        assert time.monotonic() < deadline, "the abandoned request never ran"
        await asyncio.sleep(0.05)
    before = counts(manager, sid)
    retry = manager(q.ADD_PACKAGES, sid=sid, packages=packages, key=k)["addPackages"]
    assert retry["__typename"] == "AddPackagesSuccess"
    assert sorted(p["id"] for p in retry["added"]) == sorted(
        e["node"]["id"] for e in before["packages"]["edges"]
    ), "the retry gets the first result, not duplicates"
    assert retry["duplicates"] == []
    assert counts(manager, sid) == before

    # A client that times out at once and retries: whatever reached the server runs once.
    k = key()
    name = f"Timeout {uuid.uuid4().hex[:6]}"
    body = {"query": q.CREATE_SESSION, "variables": {"name": name, "key": k}}
    headers = {"authorization": f"Bearer {manager.token}"}
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        for _ in range(3):
            with contextlib.suppress(httpx.TimeoutException):
                await client.post("/graphql", json=body, headers=headers, timeout=0.001)
        final = await client.post("/graphql", json=body, headers=headers, timeout=30)
    sid2 = final.json()["data"]["createSession"]["session"]["id"]
    await asyncio.sleep(0.3)  # let any abandoned copy finish
    assert named(manager, name) == [sid2]


async def _concurrent(
    server: LiveServer, token: str, body: dict[str, Any], n: int
) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(
            *[
                client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})
                for _ in range(n)
            ]
        )
    assert {r.status_code for r in responses} == {200}
    return [r.json() for r in responses]


@pytest.mark.parametrize("copies", [2, 50])
async def test_concurrent_copies_run_once(
    live_server: LiveServer, make_user: Callable[..., Any], copies: int
) -> None:
    """Copies of one request racing each other: one runs, every copy gets its result.

    50 copies is more than the server's connection pool (30): the replays must not hold a
    connection while they wait for another one.
    """
    manager = await make_user("MANAGER")
    sid, _ = new_session(manager)
    k = key()
    packages = [{"barcode": f"LBR-{i}"} for i in range(5)]
    body = {"query": q.ADD_PACKAGES, "variables": {"sid": sid, "packages": packages, "key": k}}
    bodies = await _concurrent(live_server, manager.token, body, copies)
    errors = [b["errors"] for b in bodies if "errors" in b]
    assert not errors, errors[0]
    results = [b["data"]["addPackages"] for b in bodies]
    assert {r["__typename"] for r in results} == {"AddPackagesSuccess"}
    added = {tuple(p["id"] for p in r["added"]) for r in results}
    assert len(added) == 1 and len(next(iter(added))) == 5, "every copy sees the first result"
    assert all(r["duplicates"] == [] for r in results)
    state = counts(manager, sid)
    assert state["packages"]["totalCount"] == 5
    assert state["lastSequence"] == state["audit"]["totalCount"] == 6


CREATE_USER_KEYED = """
mutation($name: String!, $role: Role!, $key: String) {
  createUser(input: {name: $name, role: $role, idempotencyKey: $key}) {
    __typename ... on CreateUserSuccess { user { id name role } token }
    ... on Error { code message } ... on ValidationError { field }
  }
}"""

ME = "{ me { id name } }"


def _me(caller: Caller, token: str) -> dict[str, Any]:
    r = caller.client.post(
        "/graphql", json={"query": ME}, headers={"authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return r.json()["data"]["me"]  # type: ignore[no-any-return]


async def test_create_user_replay_answers_the_same_user_and_token(
    make_user: Callable[..., Any], committed_session_uow: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    k = key()
    first = manager(CREATE_USER_KEYED, name="Entregador Único", role="DELIVERER", key=k)
    first = first["createUser"]
    assert first["__typename"] == "CreateUserSuccess", first
    again = manager(CREATE_USER_KEYED, name="Entregador Único", role="DELIVERER", key=k)
    assert again["createUser"] == first  # the same user, the same token
    assert _me(manager, first["token"]) == {"id": first["user"]["id"], "name": "Entregador Único"}

    # The record keeps the token sealed (never in clear), and nothing else changed.
    async with committed_session_uow() as uow:
        row = await uow.idempotency.get(uuid.UUID(manager.id), k)
    assert row is not None and row.response["user"] == first["user"]["id"]
    assert first["token"] not in json.dumps(row.response)
    assert set(row.response) == {"user", "sealed"}

    other_input = manager(CREATE_USER_KEYED, name="Outro Nome", role="DELIVERER", key=k)
    assert other_input["createUser"]["__typename"] == "IdempotencyConflictError"


async def test_create_user_key_of_another_caller_is_independent(
    make_user: Callable[..., Any], committed_session_uow: Callable[..., Any]
) -> None:
    ana, bia = await make_user("MANAGER"), await make_user("MANAGER")
    k = key()
    a = ana(CREATE_USER_KEYED, name="Mesmo Nome", role="DELIVERER", key=k)["createUser"]
    b = bia(CREATE_USER_KEYED, name="Mesmo Nome", role="DELIVERER", key=k)["createUser"]
    assert a["__typename"] == b["__typename"] == "CreateUserSuccess"
    assert a["user"]["id"] != b["user"]["id"] and a["token"] != b["token"]
    assert _me(ana, b["token"])["id"] == b["user"]["id"]

    # Bia's sealed token copied into Ana's record does not open: it is bound to its caller.
    async with committed_session_uow() as uow:
        bias = await uow.idempotency.get(uuid.UUID(bia.id), k)
        anas = await uow.idempotency.get(uuid.UUID(ana.id), k)
        assert bias is not None and anas is not None
        anas.response = {**anas.response, "sealed": bias.response["sealed"]}
        await uow.commit()
    r = ana.raw(CREATE_USER_KEYED, {"name": "Mesmo Nome", "role": "DELIVERER", "key": k})
    assert b["token"] not in json.dumps(r)


async def test_create_user_refusal_does_not_burn_the_key(make_user: Callable[..., Any]) -> None:
    manager = await make_user("MANAGER")
    k = key()
    refused = manager(CREATE_USER_KEYED, name="Chefe", role="ADMIN", key=k)["createUser"]
    assert refused["__typename"] == "PermissionDeniedError"
    ok = manager(CREATE_USER_KEYED, name="Chefe", role="DELIVERER", key=k)["createUser"]
    assert ok["__typename"] == "CreateUserSuccess"
