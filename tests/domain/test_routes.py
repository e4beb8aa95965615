"""OptimizeRoutes through the runner: routes written, packages assigned (audited), the
packages without a place listed, re-runs mid-day, and every bad input refused with nothing
written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from db.base import utcnow
from db.enums import DeliveryStatus, Role
from domain import commands, routes
from domain.actions import Action
from domain.addresses import AddressData
from domain.errors import PermissionDenied, ValidationFailed
from domain.operations import Runner
from domain.packages import PackageData
from tests.domain.conftest import MakeUser
from tests.geo.fakes import FakeProviders, serve

DEPOT = (-23.55, -46.63)


def spot(k: int) -> AddressData:
    return AddressData(
        street=f"Rua {k}",
        number=str(k),
        city="São Paulo",
        state="SP",
        latitude=-23.55 + (k % 7) * 0.004,
        longitude=-46.63 + (k // 7) * 0.004,
    )


async def setup(
    runner: Runner,
    make_user: MakeUser,
    *,
    deliverers: int = 2,
    parcels: int = 12,
    addresses: int = 8,
) -> tuple[object, uuid.UUID, list[uuid.UUID]]:
    manager = await make_user(Role.MANAGER)
    sid = (await runner.run_once(manager, commands.CreateSession("Rotas"))).rows["session"].id
    ids = []
    for _ in range(deliverers):
        courier = await make_user(Role.DELIVERER)
        done = await runner.run_once(
            manager, commands.AddDeliverer(sid, "100.00", "2.00", user_id=courier.id)
        )
        ids.append(done.rows["deliverer"].id)
    items = [PackageData(f"P-{k}", address=spot(k % addresses)) for k in range(parcels)]
    items.append(PackageData("NOWHERE", address=AddressData("Rua Sem Lugar, 1")))
    items.append(PackageData("NO-ADDRESS"))
    await runner.run_once(manager, commands.AddPackages(sid, tuple(items)))
    return manager, sid, ids


def optimize(sid: uuid.UUID, **options: object) -> commands.OptimizeRoutes:
    options.setdefault("depot_latitude", DEPOT[0])
    options.setdefault("depot_longitude", DEPOT[1])
    return commands.OptimizeRoutes(sid, routes.RouteOptions(**options))  # type: ignore[arg-type]


async def test_routes_are_written_and_packages_assigned(
    runner: Runner, make_user: MakeUser
) -> None:
    manager, sid, deliverer_ids = await setup(runner, make_user)
    done = await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        session = await uow.sessions.get(sid)
        rows = await uow.deliverers.for_session(sid)
        pkgs = {p.barcode: p for p in await uow.packages.not_final(sid)}
        audit = await uow.audit.after(sid, 0, 1000)
    data = session.route_optimization_data  # type: ignore[union-attr]
    assert data["solver"].startswith("vroom") and data["inputs"]["stops"] == 8
    assert data["inputs"]["parcels"] == 12 and data["inputs"]["depot"]["latitude"] == DEPOT[0]
    assert sorted(data["unplaced"]) == sorted([str(pkgs["NOWHERE"].id), str(pkgs["NO-ADDRESS"].id)])
    assert sorted(done.ref["unplaced"]) == sorted(data["unplaced"])
    stops = [s for d in rows for s in d.route["stops"]]  # type: ignore[index]
    assert len(stops) == 8 and sum(s["parcels"] for s in stops) == 12
    for d in rows:
        seq = [s["sequence"] for s in d.route["stops"]]  # type: ignore[index]
        assert seq == list(range(1, len(seq) + 1))
        etas = [s["etaOffsetS"] for s in d.route["stops"]]  # type: ignore[index]
        assert etas == sorted(etas)
        for s in d.route["stops"]:  # type: ignore[index]
            assert all(pkgs_by_id(pkgs)[pid].deliverer_id == d.id for pid in s["packageIds"])
        assert d.packages_assigned == sum(s["parcels"] for s in d.route["stops"])  # type: ignore[index]
    assert pkgs["NOWHERE"].deliverer_id is None, "not silently assigned either"
    assigned = [e for e in audit if e.action == Action.PACKAGE_ASSIGNED]
    assert len(assigned) == 12
    optimized = [e for e in audit if e.action == Action.ROUTES_OPTIMIZED]
    assert optimized[0].details["stops"] == 8 and optimized[0].details["unplaced"] == 2
    assert {d.id for d in rows} == set(deliverer_ids)


def pkgs_by_id(pkgs: dict[str, object]) -> dict[str, object]:
    return {str(p.id): p for p in pkgs.values()}  # type: ignore[attr-defined]


async def test_balanced_by_default(runner: Runner, make_user: MakeUser) -> None:
    manager, sid, _ = await setup(runner, make_user, deliverers=3, parcels=30, addresses=30)
    await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        counts = [len(d.route["stops"]) for d in await uow.deliverers.for_session(sid)]  # type: ignore[index]
    assert sum(counts) == 30 and max(counts) <= 11


async def test_a_rerun_mid_day_keeps_finished_stops_and_carried_parcels(
    runner: Runner, make_user: MakeUser
) -> None:
    manager, sid, _ = await setup(runner, make_user)
    await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    await runner.run_once(manager, commands.StartSession(sid))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        rows = await uow.deliverers.for_session(sid)
    first = rows[0] if rows[0].route["stops"] else rows[1]  # type: ignore[index]
    done_stop = first.route["stops"][0]  # type: ignore[index]
    for pid in done_stop["packageIds"]:
        await runner.run_once(
            manager, commands.UpdatePackageStatus(uuid.UUID(pid), DeliveryStatus.DELIVERED)
        )  # type: ignore[arg-type]
    carried = first.route["stops"][1]["packageIds"][0]  # type: ignore[index]
    await runner.run_once(
        manager, commands.UpdatePackageStatus(uuid.UUID(carried), DeliveryStatus.PICKED_UP)
    )  # type: ignore[arg-type]
    await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        again = {d.id: d for d in await uow.deliverers.for_session(sid)}
        session = await uow.sessions.get(sid)
        carried_row = (await uow.packages.get_many([uuid.UUID(carried)]))[0]
    mine = again[first.id].route
    assert mine["done"][0]["packageIds"] == done_stop["packageIds"]  # type: ignore[index]
    open_ids = [pid for s in mine["stops"] for pid in s["packageIds"]]  # type: ignore[index]
    assert not set(done_stop["packageIds"]) & set(open_ids), "finished stops are not routed again"
    assert carried in open_ids and carried_row.deliverer_id == first.id
    start = next(
        v
        for v in session.route_optimization_data["inputs"]["deliverers"]
        if v["delivererId"] == str(first.id)
    )  # type: ignore[index]
    assert start["fromLastStop"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"deliverers": 0}, "NO_DELIVERERS"),
        ({"options": {"depot_latitude": None, "depot_longitude": None}}, "DEPOT_NOT_SET"),
        ({"options": {"capacity": 5}}, "ROUTE_CAPACITY_EXCEEDED"),
        ({"options": {"balance": -1.0}}, "ROUTE_BALANCE_INVALID"),
        ({"options": {"depot_latitude": 95.0}}, "COORDINATE_OUT_OF_RANGE"),
    ],
)
async def test_bad_input_is_refused_with_nothing_written(
    runner: Runner, make_user: MakeUser, change: dict[str, object], code: str
) -> None:
    manager, sid, _ = await setup(runner, make_user, deliverers=int(change.get("deliverers", 2)))  # type: ignore[call-overload]
    async with runner.uow() as uow:
        before = await uow.audit.count(sid)
    with pytest.raises(ValidationFailed) as err:
        await runner.run_once(manager, optimize(sid, **change.get("options", {})))  # type: ignore[arg-type]
    assert err.value.code == code
    async with runner.uow() as uow:
        assert await uow.audit.count(sid) == before
        assert (await uow.sessions.get(sid)).route_optimization_data is None  # type: ignore[union-attr]
        assert all(d.route is None for d in await uow.deliverers.for_session(sid))


async def test_no_geocoded_packages(runner: Runner, make_user: MakeUser) -> None:
    manager = await make_user(Role.MANAGER)
    sid = (await runner.run_once(manager, commands.CreateSession("Vazia"))).rows["session"].id
    courier = await make_user(Role.DELIVERER)
    await runner.run_once(manager, commands.AddDeliverer(sid, "1.00", "1.00", user_id=courier.id))
    await runner.run_once(
        manager, commands.AddPackages(sid, (PackageData("A-1", address=AddressData("Rua X, 1")),))
    )
    with pytest.raises(ValidationFailed) as err:
        await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    assert err.value.code == "NO_GEOCODED_PACKAGES"


async def test_a_solver_timeout_is_a_coded_error(
    runner: Runner, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, sid, _ = await setup(runner, make_user)
    import routing

    real = routing.solve_within

    async def hurried(problem, matrix, options, hard_limit_s=None):  # type: ignore[no-untyped-def]
        return await real(problem, matrix, options, hard_limit_s=1e-6)

    monkeypatch.setattr(routing, "solve_within", hurried)
    with pytest.raises(ValidationFailed) as err:
        await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    assert err.value.code == "ROUTE_SOLVER_TIMEOUT"
    async with runner.uow() as uow:
        assert (await uow.sessions.get(sid)).route_optimization_data is None  # type: ignore[union-attr]


async def test_only_the_sessions_manager_optimizes(runner: Runner, make_user: MakeUser) -> None:
    _, sid, _ = await setup(runner, make_user)
    other = await make_user(Role.MANAGER)
    with pytest.raises(PermissionDenied):
        await runner.run_once(other, optimize(sid))  # type: ignore[arg-type]


async def test_shift_windows_and_etas_from_the_start_time(
    runner: Runner, make_user: MakeUser
) -> None:
    manager, sid, ids = await setup(runner, make_user)
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    options = routes.RouteOptions(
        depot_latitude=DEPOT[0],
        depot_longitude=DEPOT[1],
        start_at=start,
        vehicles=(
            routes.VehicleOptions(
                ids[0], capacity=20, shift_start=start, shift_end=start + timedelta(hours=8)
            ),
        ),
    )
    await runner.run_once(manager, commands.OptimizeRoutes(sid, options))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        rows = await uow.deliverers.for_session(sid)
    for d in rows:
        for s in d.route["stops"]:  # type: ignore[index]
            assert s["eta"] == (start + timedelta(seconds=s["etaOffsetS"])).isoformat()


@pytest.fixture
def osrm() -> Iterator[FakeProviders]:
    with serve(FakeProviders()) as fake:
        yield fake


async def test_an_osrm_server_gives_the_matrix_when_configured(
    runner: Runner, make_user: MakeUser, osrm: FakeProviders
) -> None:
    manager, sid, _ = await setup(runner, make_user)
    runner.deps = commands.Deps(routes=routes.RouteConfig(osrm_url=osrm.url))
    await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    runner.deps = commands.Deps(routes=routes.RouteConfig(osrm_url="http://127.0.0.1:9"))
    await runner.run_once(manager, optimize(sid))  # type: ignore[arg-type]
    async with runner.uow() as uow:
        data = (await uow.sessions.get(sid)).route_optimization_data  # type: ignore[union-attr]
        audit = await uow.audit.after(sid, 0, 1000)
    assert osrm.count("/table/v1/driving/") == 1
    assert "OSRM unavailable" in data["matrix"]  # type: ignore[index]
    assert [e.details["cost"] > 0 for e in audit if e.action == Action.ROUTES_OPTIMIZED] == [
        True,
        True,
    ]
