"""Group commit (domain/group_commit.py): concurrent addPackages on one session share transactions,
and every call still gets exactly the answer it would get alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import LiveServer, asyncpg_dsn
from tests.e2e import queries as q
from tests.e2e.conftest import Caller, acall
from tests.e2e.test_concurrency import AUDIT, aclient, check_audit

__all__ = ["aclient"]  # the shared fixture, used by the tests below


async def post(
    client: httpx.AsyncClient, caller: Caller, doc: str, variables: dict[str, Any]
) -> dict[str, Any]:
    return (await acall(client, caller, doc, variables))["addPackages"]  # type: ignore[no-any-return]


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


# ---------------------------------------------------------------------------------------------
# Batches made on purpose: the app in-process, with the session's waiting line held while the
# calls arrive, so they are taken together when it is released.


def _held(client: httpx.AsyncClient, sid: str) -> asyncio.Lock:
    """The session's line in front of the row lock (domain/operations.py)."""
    import uuid

    runner = client.app.state.services.runner  # type: ignore[attr-defined]
    return runner.lines.lock(uuid.UUID(sid))


async def _batched(
    client: httpx.AsyncClient, sid: str, calls: list[tuple[Caller, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """A first call takes the session's line; the others queue behind it in this order and
    then share one transaction."""
    lock = _held(client, sid)
    await lock.acquire()
    try:
        first = asyncio.create_task(post(client, calls[0][0], q.ADD_PACKAGES, calls[0][1]))
        await asyncio.sleep(0.2)
        rest = []
        for caller, variables in calls[1:]:
            rest.append(asyncio.create_task(post(client, caller, q.ADD_PACKAGES, variables)))
            await asyncio.sleep(0.02)  # arrival order
        await asyncio.sleep(0.2)
    finally:
        lock.release()
    return [await first, *[await t for t in rest]]


async def test_each_answer_shows_the_session_as_its_own_call_left_it(
    inproc: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Sequencias")["createSession"]["session"]["id"]
    before = inproc.app.state.services.runner.batches.batches  # type: ignore[attr-defined]
    calls = [(manager, {"sid": sid, "packages": [{"barcode": f"SEQ-{i}"}]}) for i in range(4)]
    results = await _batched(inproc, sid, calls)
    assert inproc.app.state.services.runner.batches.batches - before == 2  # type: ignore[attr-defined]
    assert [r["session"]["lastSequence"] for r in results] == [2, 3, 4, 5]


async def test_after_a_refusal_the_calls_keep_their_arrival_order(
    inproc: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    stranger = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Ordem")["createSession"]["session"]["id"]
    for round_ in range(3):
        code = f"ORD-{round_}"
        results = await _batched(
            inproc,
            sid,
            [
                (manager, {"sid": sid, "packages": [{"barcode": f"FIRST-{round_}"}]}),
                (manager, {"sid": sid, "packages": [{"barcode": code}], "key": f"a-{round_}"}),
                (stranger, {"sid": sid, "packages": [{"barcode": "NOPE"}]}),
                (manager, {"sid": sid, "packages": [{"barcode": code}]}),
            ],
        )
        earlier, later = results[1], results[3]
        assert results[2]["__typename"] == "PermissionDeniedError"
        assert [p["barcode"] for p in earlier["added"]] == [code], earlier
        assert later["added"] == [] and later["duplicates"] == [code], later


async def test_a_repeated_key_in_a_batch_sees_the_first_calls_result(
    inproc: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Chave repetida")["createSession"]["session"]["id"]
    results = await _batched(
        inproc,
        sid,
        [
            (manager, {"sid": sid, "packages": [{"barcode": "LEAD"}]}),
            *[
                (manager, {"sid": sid, "packages": [{"barcode": f"J-{i}"}], "key": f"j{i}"})
                for i in range(3)
            ],
            (manager, {"sid": sid, "packages": [{"barcode": "Y-1"}], "key": "K"}),
            (manager, {"sid": sid, "packages": [{"barcode": "Y-1"}], "key": "K"}),  # a retry
            (manager, {"sid": sid, "packages": [{"barcode": "Z-1"}], "key": "K"}),  # misuse
        ],
    )
    first, retry, misuse = results[4], results[5], results[6]
    assert [p["barcode"] for p in first["added"]] == ["Y-1"]
    assert retry["__typename"] == "AddPackagesSuccess"
    assert [p["id"] for p in retry["added"]] == [p["id"] for p in first["added"]]
    assert misuse["__typename"] == "IdempotencyConflictError"
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 5  # LEAD, J-0..2, Y-1; never Z-1


async def test_a_retry_in_a_refused_batch_replays_without_stale_rows(
    inproc: httpx.AsyncClient, make_user: Callable[..., Any]
) -> None:
    manager = await make_user("MANAGER")
    stranger = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Reenvio")["createSession"]["session"]["id"]
    results = await _batched(
        inproc,
        sid,
        [
            (manager, {"sid": sid, "packages": [{"barcode": "LEAD"}]}),
            (manager, {"sid": sid, "packages": [{"barcode": "X-1"}], "key": "K"}),
            (manager, {"sid": sid, "packages": [{"barcode": "X-1"}], "key": "K"}),
            (stranger, {"sid": sid, "packages": [{"barcode": "Z-1"}]}),
        ],
    )
    first, retry, refused = results[1], results[2], results[3]
    assert first["__typename"] == retry["__typename"] == "AddPackagesSuccess"
    assert [p["id"] for p in first["added"]] == [p["id"] for p in retry["added"]]
    assert first["session"]["lastSequence"] == retry["session"]["lastSequence"] == 3
    assert refused["__typename"] == "PermissionDeniedError"
