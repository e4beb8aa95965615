"""Group commit (gql/batching.py): concurrent addPackages on one session share transactions,
and every call still gets exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer, asyncpg_dsn
from tests.e2e import queries as q
from tests.e2e.conftest import Caller
from tests.e2e.test_concurrency import AUDIT, check_audit


@pytest.fixture
async def aclient(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=90, limits=limits) as client:
        yield client


async def post(
    client: httpx.AsyncClient, caller: Caller, doc: str, variables: dict[str, Any]
) -> dict[str, Any]:
    r = await client.post(
        "/graphql",
        json={"query": doc, "variables": variables},
        headers={"authorization": f"Bearer {caller.token}"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]["addPackages"]  # type: ignore[no-any-return]


async def transactions(database_url: str, sid: str) -> int:
    """How many transactions inserted this session's packages (their xmin)."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(DISTINCT xmin::text) FROM session_packages WHERE session_id = $1",
                sid,
            )
        )
    finally:
        await conn.close()


async def test_concurrent_adds_share_transactions_and_keep_the_audit_gapless(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient, database_url: str
) -> None:
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Lote")["createSession"]["session"]["id"]
    results = await asyncio.gather(
        *[
            post(
                aclient, manager, q.ADD_PACKAGES, {"sid": sid, "packages": [{"barcode": f"GC-{i}"}]}
            )
            for i in range(60)
        ]
    )
    assert sorted(r["added"][0]["barcode"] for r in results) == sorted(f"GC-{i}" for i in range(60))
    # Each answer shows the session as committed with its own package in it.
    assert all(r["session"]["lastSequence"] >= 2 for r in results)
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 60
    assert Counter(check_audit(session)) == {"session.created": 1, "package.added": 60}
    shared = await transactions(database_url, sid)
    assert shared < 60, "60 concurrent adds took 60 transactions: no group commit"


async def test_a_refused_call_does_not_change_the_others(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient, database_url: str
) -> None:
    """A stranger's call and a call with an unknown deliverer (refused after its address was
    written) land among valid ones: they get their errors, the rest is added, nothing else."""
    manager = await make_user("MANAGER")
    stranger = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Misturado")["createSession"]["session"]["id"]
    bad_deliverer = {
        "barcode": "GC-BAD",
        "address": {"line": "Rua Nova, 1", "city": "Recife"},
        "delivererId": "00000000-0000-0000-0000-000000000001",
    }
    calls = []
    for i in range(30):
        calls.append(
            post(
                aclient, manager, q.ADD_PACKAGES, {"sid": sid, "packages": [{"barcode": f"OK-{i}"}]}
            )
        )
        if i % 10 == 5:
            calls.append(
                post(
                    aclient,
                    stranger,
                    q.ADD_PACKAGES,
                    {"sid": sid, "packages": [{"barcode": f"NO-{i}"}]},
                )
            )
            calls.append(
                post(aclient, manager, q.ADD_PACKAGES, {"sid": sid, "packages": [bad_deliverer]})
            )
    results = await asyncio.gather(*calls)
    kinds = Counter(r["__typename"] for r in results)
    assert kinds == {"AddPackagesSuccess": 30, "PermissionDeniedError": 3, "ValidationError": 3}, (
        kinds
    )
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 30
    assert Counter(check_audit(session)) == {"session.created": 1, "package.added": 30}
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        codes = {
            r["barcode"]
            for r in await conn.fetch(
                "SELECT barcode FROM session_packages WHERE session_id = $1", sid
            )
        }
        addresses = await conn.fetchval(
            "SELECT count(*) FROM session_addresses WHERE session_id = $1", sid
        )
    finally:
        await conn.close()
    assert codes == {f"OK-{i}" for i in range(30)}
    assert addresses == 0, "the refused call's address was kept"


async def test_refused_calls_inside_a_shared_transaction_are_rerun_alone(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient, live_server: LiveServer
) -> None:
    """The path the test above relies on is really taken: a refusal among many."""
    manager = await make_user("MANAGER")
    stranger = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Reexecutar")["createSession"]["session"]["id"]
    before = live_server.log_path.read_text().count("running its calls one by one")
    for attempt in range(5):
        calls = [
            post(
                aclient,
                manager,
                q.ADD_PACKAGES,
                {"sid": sid, "packages": [{"barcode": f"R{attempt}-{i}"}]},
            )
            for i in range(30)
        ]
        calls.insert(
            15,
            post(aclient, stranger, q.ADD_PACKAGES, {"sid": sid, "packages": [{"barcode": "X"}]}),
        )
        results = await asyncio.gather(*calls)
        assert results[15]["__typename"] == "PermissionDeniedError"
        assert all(
            r["__typename"] == "AddPackagesSuccess" for i, r in enumerate(results) if i != 15
        )
        await asyncio.sleep(0.2)
        if live_server.log_path.read_text().count("running its calls one by one") > before:
            return
    pytest.fail("a refusal never shared a transaction with other calls in 5 bursts")


async def test_idempotency_keys_inside_shared_transactions(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient
) -> None:
    """Copies of one keyed call replay its result; the same key with another input conflicts;
    other keys are independent, all while sharing transactions."""
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Chaves")["createSession"]["session"]["id"]
    same = {"sid": sid, "packages": [{"barcode": "KEY-1"}], "key": "k-same"}
    other_input = {"sid": sid, "packages": [{"barcode": "KEY-2"}], "key": "k-same"}
    calls = [post(aclient, manager, q.ADD_PACKAGES, same) for _ in range(10)]
    calls += [post(aclient, manager, q.ADD_PACKAGES, other_input) for _ in range(3)]
    calls += [
        post(
            aclient,
            manager,
            q.ADD_PACKAGES,
            {"sid": sid, "packages": [{"barcode": f"IND-{i}"}], "key": f"k-{i}"},
        )
        for i in range(20)
    ]
    results = await asyncio.gather(*calls)
    first_ten, conflicts, independent = results[:10], results[10:13], results[13:]
    # Whichever of the 13 calls with "k-same" came first decides; the rest replay or conflict.
    winners = [r for r in first_ten + conflicts if r["__typename"] == "AddPackagesSuccess"]
    losers = [r for r in first_ten + conflicts if r["__typename"] == "IdempotencyConflictError"]
    assert len(winners) + len(losers) == 13
    assert len({tuple(p["id"] for p in r["added"]) for r in winners}) == 1, "replays differ"
    assert len(winners) in (10, 3)
    assert all(len(r["added"]) == 1 for r in independent)
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 21
    assert Counter(check_audit(session)) == {"session.created": 1, "package.added": 21}
