"""Races on real PostgreSQL over HTTP: many clients at once against one session.

The session row lock must serialize them: no duplicate barcodes, one completion with one
snapshot, and audit sequences that are unique and gapless (1..lastSequence).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e import queries as q
from tests.e2e.conftest import Caller, acall

AUDIT = """query($id: ID!) { session(id: $id) {
  status lastSequence completedAt
  progress { total pending pickedUp delivered failed }
  deliverers { id packagesAssigned packagesDelivered packagesFailed totalEarned }
  financialSnapshot { totalCost delivered failed deliverers { delivererId delivered totalEarned } }
  audit(first: 1000) { totalCount pageInfo { hasNextPage } edges { node { sequence action } } }
} }"""


@pytest.fixture
async def aclient(live_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=live_server.url, timeout=90, limits=limits) as client:
        yield client


async def gather(
    client: httpx.AsyncClient, calls: list[tuple[Caller, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """All calls at once; each must be a clean GraphQL answer (no `errors`)."""

    return await asyncio.gather(*[acall(client, *call) for call in calls])


def check_audit(session: dict[str, Any]) -> list[str]:
    audit = session["audit"]
    assert not audit["pageInfo"]["hasNextPage"]
    sequences = [e["node"]["sequence"] for e in audit["edges"]]
    assert sequences == list(range(1, session["lastSequence"] + 1)), "unique and gapless"
    assert audit["totalCount"] == session["lastSequence"]
    return [e["node"]["action"] for e in audit["edges"]]


async def test_same_barcode_added_by_20_clients_at_once(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient
) -> None:
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Corrida")["createSession"]["session"]["id"]
    calls = [(manager, q.ADD_PACKAGES, {"sid": sid, "packages": [{"barcode": " 7891000315507"}]})]
    results = [d["addPackages"] for d in await gather(aclient, calls * 20)]
    assert {r["__typename"] for r in results} == {"AddPackagesSuccess"}
    winners = [r for r in results if r["added"]]
    assert len(winners) == 1, f"{len(winners)} clients added the same barcode"
    assert winners[0]["added"][0]["barcode"] == "7891000315507"
    losers = [r for r in results if not r["added"]]
    assert len(losers) == 19
    assert all(r["duplicates"] == ["7891000315507"] for r in losers)
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 1
    actions = check_audit(session)
    assert actions == ["session.created", "package.added"]


async def test_different_barcodes_added_at_once_get_gapless_sequences(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient
) -> None:
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Muitos")["createSession"]["session"]["id"]
    calls = [
        (
            manager,
            q.ADD_PACKAGES,
            {"sid": sid, "packages": [{"barcode": f"LBR-{i}-{j}"} for j in range(3)]},
        )
        for i in range(20)
    ]
    results = [d["addPackages"] for d in await gather(aclient, calls)]
    assert all(len(r["added"]) == 3 for r in results)
    session = manager(AUDIT, id=sid)["session"]
    assert session["progress"]["total"] == 60
    actions = check_audit(session)
    assert Counter(actions) == {"session.created": 1, "package.added": 60}


async def _active_session_of(
    manager: Caller, courier: Caller, n: int, base: str, commission: str
) -> tuple[str, str, list[str]]:
    sid = manager(q.CREATE_SESSION, name=f"{n} pacotes")["createSession"]["session"]["id"]
    did = manager(q.ADD_DELIVERER, sid=sid, uid=courier.id, base=base, commission=commission)[
        "addDeliverer"
    ]["deliverer"]["id"]
    packages = [{"barcode": f"PKG-{i:03d}", "delivererId": did} for i in range(n)]
    added = manager(q.ADD_PACKAGES, sid=sid, packages=packages)["addPackages"]["added"]
    assert len(added) == n
    started = manager(q.session_action("startSession"), sid=sid)["startSession"]
    assert started["session"]["status"] == "ACTIVE"
    return sid, did, [p["id"] for p in added]


async def test_50_deliveries_at_once_complete_the_session_exactly_once(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient
) -> None:
    manager = await make_user("MANAGER")
    courier = await make_user("DELIVERER")
    sid, did, pids = await _active_session_of(manager, courier, 50, "120.00", "3.35")
    calls = [(courier, q.UPDATE_STATUS, {"pid": pid, "status": "DELIVERED"}) for pid in pids]
    results = [d["updatePackageStatus"] for d in await gather(aclient, calls)]
    assert Counter(r["__typename"] for r in results) == {"PackageSuccess": 50}
    assert {r["package"]["status"] for r in results} == {"DELIVERED"}
    completing = [r for r in results if r["session"]["status"] == "COMPLETED"]
    assert len(completing) == 1, "exactly one delivery saw the session complete"
    assert completing[0]["session"]["progress"]["delivered"] == 50

    session = manager(AUDIT, id=sid)["session"]
    assert session["status"] == "COMPLETED" and session["completedAt"]
    actions = check_audit(session)
    counted = Counter(actions)
    assert counted["session.completed"] == 1
    assert counted["package.status_changed"] == 50
    assert actions[-1] == "session.completed"
    expected = Decimal("120.00") + 50 * Decimal("3.35")
    (deliverer,) = session["deliverers"]
    assert deliverer["packagesDelivered"] == 50 and deliverer["packagesFailed"] == 0
    assert Decimal(deliverer["totalEarned"]) == expected
    snapshot = session["financialSnapshot"]
    assert snapshot["delivered"] == 50 and snapshot["failed"] == 0
    assert Decimal(snapshot["totalCost"]) == expected
    assert snapshot["deliverers"] == [
        {"delivererId": did, "delivered": 50, "totalEarned": str(expected)}
    ]


async def test_deliveries_racing_a_forced_completion(
    make_user: Callable[..., Any], aclient: httpx.AsyncClient
) -> None:
    """Deliveries and forced completions at once: one completion, and the snapshot agrees
    with what every client was told."""
    manager = await make_user("MANAGER")
    courier = await make_user("DELIVERER")
    sid, _, pids = await _active_session_of(manager, courier, 12, "10.00", "1.00")
    calls: list[tuple[Caller, str, dict[str, Any]]] = [
        (courier, q.UPDATE_STATUS, {"pid": pid, "status": "DELIVERED"}) for pid in pids
    ]
    for i in range(4):
        calls.insert(3 * i + 2, (manager, q.COMPLETE, {"sid": sid, "force": True}))
    results = await gather(aclient, calls)
    deliveries = [d["updatePackageStatus"] for d in results if "updatePackageStatus" in d]
    completions = [d["completeSession"] for d in results if "completeSession" in d]
    delivered = sum(r["__typename"] == "PackageSuccess" for r in deliveries)
    assert all(r["__typename"] in ("PackageSuccess", "ReadOnlySessionError") for r in deliveries), (
        deliveries
    )
    succeeded = [r for r in completions if r["__typename"] == "SessionSuccess"]
    assert all(
        r["__typename"] in ("SessionSuccess", "ReadOnlySessionError", "InvalidTransitionError")
        for r in completions
    ), completions
    assert len(succeeded) <= 1
    if not succeeded:
        assert delivered == 12, "no forced completion won: the last delivery completed it"

    session = manager(AUDIT, id=sid)["session"]
    assert session["status"] == "COMPLETED"
    counted = Counter(check_audit(session))
    assert counted["session.completed"] == 1
    snapshot = session["financialSnapshot"]
    assert snapshot["delivered"] == delivered
    assert snapshot["delivered"] + snapshot["failed"] == 12
    assert session["progress"] == {
        "total": 12,
        "pending": 0,
        "pickedUp": 0,
        "delivered": delivered,
        "failed": 12 - delivered,
    }
    assert Decimal(snapshot["totalCost"]) == Decimal("10.00") + delivered * Decimal("1.00")
