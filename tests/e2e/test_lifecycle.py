"""The whole life of a delivery session, over real HTTP against a live uvicorn."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e import queries as q

VALID = ["7891000315507", "7894900011517", "036000291452", "96385074", "LBR-000123-SP"]


async def test_whole_lifecycle(make_user) -> None:  # type: ignore[no-untyped-def]
    admin = await make_user("ADMIN")
    manager = await make_user("MANAGER")

    # Deliverers are created through the API by the manager (MANAGER may create DELIVERERs only).
    couriers = []
    for name in ("Ana Lima", "Bruno Souza"):
        r = manager(q.CREATE_USER, name=name, role="DELIVERER")["createUser"]
        assert r["__typename"] == "CreateUserSuccess" and r["user"]["role"] == "DELIVERER"
        couriers.append(r)
    denied = manager(q.CREATE_USER, name="Boss", role="ADMIN")["createUser"]
    assert denied["__typename"] == "PermissionDeniedError"

    created = manager(q.CREATE_SESSION, name="  Manhã   Centro ")["createSession"]
    session = created["session"]
    sid = session["id"]
    assert session["status"] == "OPEN" and session["name"] == "Manhã Centro"
    assert session["owner"]["id"] == manager.id and session["lastSequence"] == 1
    assert session["progress"] == {
        "total": 0,
        "pending": 0,
        "pickedUp": 0,
        "delivered": 0,
        "failed": 0,
        "percent": 0.0,
    }

    packages = [
        {
            "barcode": " 7891000315507 ",
            "recipientName": "Maria",
            "address": {"line": "Rua das Flores, 10", "city": "São Paulo"},
        },
        {
            "barcode": "7894900011517",
            "address": {"line": "rua das  flores 10", "city": "sao paulo"},
        },
        {"barcode": "036000291452"},
        {"barcode": "9638 5074"},
        {"barcode": "lbr-000123-sp"},
        {"barcode": "7891000315507"},  # repeated in the request
        {"barcode": "4006381333932", "symbology": "EAN13"},  # read as EAN-13: bad check digit
        {"barcode": "caixa com ç"},  # not printable ASCII
        {"barcode": "X" * 65},  # too long
    ]
    added = manager(q.ADD_PACKAGES, sid=sid, packages=packages)["addPackages"]
    assert added["__typename"] == "AddPackagesSuccess"
    assert [p["barcode"] for p in added["added"]] == VALID
    assert added["duplicates"] == ["7891000315507"]
    assert [r["barcode"] for r in added["rejected"]] == ["4006381333932", "caixa com ç", "X" * 65]
    assert "check digit" in added["rejected"][0]["reason"]
    symbologies = [p["symbology"] for p in added["added"]]
    assert symbologies == ["EAN13", "EAN13", "UPCA", "EAN8", None]
    shared = {p["address"]["id"] for p in added["added"][:2]}
    assert len(shared) == 1, "equal addresses (normalized) share one Address"
    assert added["added"][1]["address"]["packageCount"] == 2
    assert added["session"]["progress"]["total"] == 5
    assert added["session"]["lastSequence"] == 6

    again = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "036000291452"}])["addPackages"]
    assert again["added"] == [] and again["duplicates"] == ["036000291452"]

    reused = manager(q.session_action("reuseSession"), sid=sid)["reuseSession"]["session"]
    assert reused["wasReused"] is True and reused["reuseCount"] == 1

    # Remove one package while OPEN.
    extra = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "5901234123457"}])[
        "addPackages"
    ]["added"][0]
    removed = manager(q.REMOVE, pid=extra["id"])["removePackage"]
    assert (
        removed["__typename"] == "PackageSuccess"
        and removed["package"]["barcode"] == "5901234123457"
    )
    assert removed["session"]["progress"]["total"] == 5

    deliverer_ids = []
    for courier, (base, commission) in zip(
        couriers, [("100.00", "2.50"), ("80.10", "3.35")], strict=True
    ):
        r = manager(
            q.ADD_DELIVERER, sid=sid, uid=courier["user"]["id"], base=base, commission=commission
        )["addDeliverer"]
        assert r["__typename"] == "AddDelivererSuccess"
        assert r["deliverer"]["totalEarned"] == base
        deliverer_ids.append(r["deliverer"]["id"])
    twice = manager(
        q.ADD_DELIVERER, sid=sid, uid=couriers[0]["user"]["id"], base="1", commission="1"
    )["addDeliverer"]
    assert twice["__typename"] == "ValidationError"
    negative = manager(
        q.ADD_DELIVERER, sid=sid, uid=couriers[1]["user"]["id"], base="-1.00", commission="1"
    )
    assert negative["addDeliverer"]["__typename"] == "ValidationError"
    not_courier = manager(q.ADD_DELIVERER, sid=sid, uid=manager.id, base="1.00", commission="1.00")[
        "addDeliverer"
    ]
    assert not_courier["__typename"] == "ValidationError" and not_courier["field"] == "userId"

    pids = [p["id"] for p in added["added"]]
    a = manager(q.ASSIGN, sid=sid, pids=pids[:3], did=deliverer_ids[0])["assignPackages"]
    assert a["__typename"] == "AssignPackagesSuccess"
    a = manager(q.ASSIGN, sid=sid, pids=pids[2:], did=deliverer_ids[1])["assignPackages"]
    counts = {d["id"]: d["packagesAssigned"] for d in a["session"]["deliverers"]}
    assert counts == {deliverer_ids[0]: 2, deliverer_ids[1]: 3}, "reassignment keeps counters right"

    # Status changes are refused before the start.
    early = manager(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED")["updatePackageStatus"]
    assert early["__typename"] == "InvalidTransitionError"

    started = manager(q.session_action("startSession"), sid=sid)["startSession"]["session"]
    assert started["status"] == "ACTIVE" and started["startedAt"]
    assert (
        manager(q.session_action("reuseSession"), sid=sid)["reuseSession"]["__typename"]
        == "InvalidTransitionError"
    )
    assert (
        manager(q.session_action("startSession"), sid=sid)["startSession"]["__typename"]
        == "InvalidTransitionError"
    )
    assert manager(q.REMOVE, pid=pids[0])["removePackage"]["__typename"] == "InvalidTransitionError"

    paused = manager(q.session_action("pauseSession"), sid=sid)["pauseSession"]["session"]
    assert paused["status"] == "PAUSED"
    blocked = manager(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED")["updatePackageStatus"]
    assert blocked["__typename"] == "InvalidTransitionError" and blocked["from"] == "PAUSED"
    resumed = manager(q.session_action("resumeSession"), sid=sid)["resumeSession"]["session"]
    assert resumed["status"] == "ACTIVE"

    ana = couriers[0]
    from tests.e2e.conftest import Caller

    ana_caller = Caller(ana["user"]["id"], "Ana", "DELIVERER", ana["token"], manager.client_factory)
    bruno_caller = Caller(
        couriers[1]["user"]["id"],
        "Bruno",
        "DELIVERER",
        couriers[1]["token"],
        manager.client_factory,
    )

    # A deliverer changes only their own packages.
    other = ana_caller(q.UPDATE_STATUS, pid=pids[3], status="DELIVERED")["updatePackageStatus"]
    assert other["__typename"] == "PermissionDeniedError"
    picked = ana_caller(q.UPDATE_STATUS, pid=pids[0], status="PICKED_UP")["updatePackageStatus"]
    assert picked["package"]["status"] == "PICKED_UP"
    delivered = ana_caller(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED")["updatePackageStatus"]
    assert delivered["package"]["deliveredAt"]
    back = ana_caller(q.UPDATE_STATUS, pid=pids[0], status="PENDING")["updatePackageStatus"]
    assert back == {
        "__typename": "InvalidTransitionError",
        "message": back["message"],
        "code": "PACKAGE_TRANSITION",
        "from": "DELIVERED",
        "to": "PENDING",
    }
    assert other["code"] == "NOT_YOUR_PACKAGE"
    no_reason = ana_caller(q.UPDATE_STATUS, pid=pids[1], status="FAILED")["updatePackageStatus"]
    assert no_reason["__typename"] == "ValidationError" and no_reason["field"] == "reason"
    assert no_reason["code"] == "REASON_REQUIRED"
    failed = ana_caller(q.UPDATE_STATUS, pid=pids[1], status="FAILED", reason="ninguém em casa")
    assert failed["updatePackageStatus"]["package"]["failureReason"] == "ninguém em casa"

    for pid in pids[2:4]:
        r = bruno_caller(q.UPDATE_STATUS, pid=pid, status="DELIVERED")["updatePackageStatus"]
        assert r["session"]["status"] == "ACTIVE"
    last = bruno_caller(q.UPDATE_STATUS, pid=pids[4], status="DELIVERED")["updatePackageStatus"]
    assert last["session"]["status"] == "COMPLETED", "the last final package completes the session"
    assert last["session"]["progress"]["percent"] == 100.0

    final = admin(q.SESSION, id=sid)["session"]
    assert final["isReadonly"] is True and final["completedAt"]
    snap = final["financialSnapshot"]
    assert snap["currency"] == "BRL" and snap["delivered"] == 4 and snap["failed"] == 1
    by_name = {d["name"]: d for d in snap["deliverers"]}
    assert by_name["Ana Lima"] == {
        **by_name["Ana Lima"],
        "delivered": 1,
        "failed": 1,
        "baseSalary": "100.00",
        "commission": "2.50",
        "totalEarned": "102.50",
    }
    assert by_name["Bruno Souza"]["totalEarned"] == "90.15"  # 80.10 + 3 x 3.35, exact
    assert by_name["Bruno Souza"]["commission"] == "10.05"
    assert Decimal(snap["totalCost"]) == Decimal("102.50") + Decimal("90.15")
    earned = {d["user"]["name"]: d["totalEarned"] for d in final["deliverers"]}
    assert earned == {"Ana Lima": "102.50", "Bruno Souza": "90.15"}

    # Audit: every change, gapless, with actors and before/after.
    audit = [e["node"] for e in final["audit"]["edges"]]
    assert [e["sequence"] for e in audit] == list(range(1, final["lastSequence"] + 1))
    actions = [e["action"] for e in audit]
    for action in (
        "session.created",
        "session.reused",
        "package.added",
        "package.removed",
        "deliverer.added",
        "package.assigned",
        "session.started",
        "session.paused",
        "session.resumed",
        "package.status_changed",
        "session.completed",
    ):
        assert action in actions, action
    assert actions[-1] == "session.completed"
    changed = [e for e in audit if e["action"] == "package.status_changed"]
    assert (
        changed[0]["details"]["before"] == {"status": "PENDING"}
        and changed[0]["actor"]["id"] == ana.get("user")["id"]
    )

    # Read-only afterwards; the snapshot stays as it was.
    ro = manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "5901234123457"}])["addPackages"]
    assert ro["__typename"] == "ReadOnlySessionError" and ro["sessionId"] == sid
    assert (
        manager(q.session_action("pauseSession"), sid=sid)["pauseSession"]["__typename"]
        == "ReadOnlySessionError"
    )
    assert (
        manager(q.session_action("reuseSession"), sid=sid)["reuseSession"]["__typename"]
        == "ReadOnlySessionError"
    )
    ro2 = manager(
        q.ADD_DELIVERER, sid=sid, uid=couriers[0]["user"]["id"], base="1", commission="1"
    )["addDeliverer"]
    assert ro2["__typename"] == "ReadOnlySessionError"

    listed = manager("{ sessions { totalCount edges { node { id } } } }")["sessions"]
    assert sid in [e["node"]["id"] for e in listed["edges"]]
    archived = manager(q.session_action("archiveSession"), sid=sid)["archiveSession"]["session"]
    assert archived["status"] == "ARCHIVED" and archived["financialSnapshot"] == snap
    listed = manager("{ sessions { edges { node { id } } } }")["sessions"]
    assert sid not in [e["node"]["id"] for e in listed["edges"]]
    listed = manager("{ sessions(status: ARCHIVED) { edges { node { id } } } }")["sessions"]
    assert sid in [e["node"]["id"] for e in listed["edges"]]
    assert (
        manager(q.session_action("archiveSession"), sid=sid)["archiveSession"]["__typename"]
        == "InvalidTransitionError"
    )


async def test_force_complete_fails_open_packages(make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Tarde")["createSession"]["session"]["id"]
    pids = [
        p["id"]
        for p in manager(q.ADD_PACKAGES, sid=sid, packages=[{"barcode": "A1"}, {"barcode": "A2"}])[
            "addPackages"
        ]["added"]
    ]
    assert manager(q.COMPLETE, sid=sid)["completeSession"]["__typename"] == "InvalidTransitionError"
    manager(q.session_action("startSession"), sid=sid)
    manager(q.UPDATE_STATUS, pid=pids[0], status="DELIVERED")
    refused = manager(q.COMPLETE, sid=sid)["completeSession"]
    assert refused["__typename"] == "InvalidTransitionError" and refused["to"] == "COMPLETED"
    done = manager(q.COMPLETE, sid=sid, force=True)["completeSession"]["session"]
    assert done["status"] == "COMPLETED"
    assert (
        done["financialSnapshot"]["failed"] == 1
        and done["financialSnapshot"]["totalCost"] == "0.00"
    )
    full = manager(q.SESSION, id=sid)["session"]
    failed = [e["node"] for e in full["packages"]["edges"] if e["node"]["status"] == "FAILED"]
    assert [p["failureReason"] for p in failed] == ["session closed"]
    closing = [
        e["node"] for e in full["audit"]["edges"] if e["node"]["action"] == "package.status_changed"
    ]
    assert closing[-1]["details"]["reason"] == "session closed"


async def test_start_needs_a_package_and_bad_ids(make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Vazia")["createSession"]["session"]["id"]
    r = manager(q.session_action("startSession"), sid=sid)["startSession"]
    assert r["__typename"] == "ValidationError"
    r = manager(q.session_action("startSession"), sid="not-a-uuid")["startSession"]
    assert r["__typename"] == "NotFoundError"
    r = manager(q.session_action("startSession"), sid="00000000-0000-0000-0000-000000000000")[
        "startSession"
    ]
    assert r["__typename"] == "NotFoundError"
    blank = manager(q.CREATE_SESSION, name="   ")["createSession"]
    assert blank["__typename"] == "ValidationError" and blank["field"] == "name"
    assert manager("query($id: ID!) { session(id: $id) { id } }", id="nope")["session"] is None


async def test_more_than_1000_packages_is_refused_whole(make_user) -> None:  # type: ignore[no-untyped-def]
    manager = await make_user("MANAGER")
    sid = manager(q.CREATE_SESSION, name="Grande")["createSession"]["session"]["id"]
    many = [{"barcode": f"PKG{i:05d}"} for i in range(1001)]
    r = manager(q.ADD_PACKAGES, sid=sid, packages=many)
    assert r["addPackages"]["__typename"] == "ValidationError"
    assert manager(q.SESSION, id=sid)["session"]["progress"]["total"] == 0
    ok = manager(q.ADD_PACKAGES, sid=sid, packages=many[:1000])["addPackages"]
    assert len(ok["added"]) == 1000
