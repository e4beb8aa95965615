"""build_session_report on the real database, rendered and stored, read back."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

import reports as render
import storage
from db.enums import DeliveryStatus, Role
from db.models import User
from domain import commands, deliverers, packages, reports, routes, sessions
from domain.addresses import AddressData
from domain.errors import PermissionDenied
from domain.operations import Runner
from domain.packages import PackageData
from domain.uow import UnitOfWork
from tests.domain.conftest import MakeUser

UowFactory = Callable[[], UnitOfWork]


async def _finished(uow_factory: UowFactory, manager: User, a: User, b: User) -> object:
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Relatório")
        da, _ = await deliverers.add_deliverer(uow, manager, session.id, a.id, "100.00", "2.35")
        db_, _ = await deliverers.add_deliverer(uow, manager, session.id, b.id, "80.10", "1.10")
        added = await packages.add_packages(
            uow,
            manager,
            session.id,
            [
                PackageData("R-1", "Conceição", AddressData("Rua A, 1", "Rio", "20000-000"), da.id),
                PackageData("R-2", "=1+1", None, da.id),
                PackageData("R-3", None, None, db_.id),
            ],
        )
        await sessions.start_session(uow, manager, session.id)
        p1, p2, p3 = added.added
        await packages.update_package_status(uow, a, p1.id, DeliveryStatus.PICKED_UP, None)
        await packages.update_package_status(uow, a, p1.id, DeliveryStatus.DELIVERED, None)
        await packages.update_package_status(uow, a, p2.id, DeliveryStatus.FAILED, "ausente")
        await packages.update_package_status(uow, b, p3.id, DeliveryStatus.DELIVERED, None)
        await uow.commit()
    return session.id


async def test_completed_session_report_with_payroll_from_the_snapshot(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    a = await make_user(Role.DELIVERER, "Ana Lúcia")
    b = await make_user(Role.DELIVERER, "Bruno")
    sid = await _finished(uow_factory, manager, a, b)
    async with uow_factory() as uow:
        report = await reports.build_session_report(uow, sid, manager)  # type: ignore[arg-type]
    assert report.status == "COMPLETED"
    by_code = {p.code: p for p in report.packages}
    assert [p.code for p in report.packages] == ["R-1", "R-2", "R-3"]
    one = by_code["R-1"]
    assert one.deliverer == "Ana Lúcia" and one.recipient == "Conceição"
    assert one.address == "Rua A, 1, Rio, 20000-000"
    assert one.picked_up_at is not None and one.delivered_at is not None
    assert by_code["R-2"].failed_at is not None and by_code["R-2"].failure_reason == "ausente"
    assert by_code["R-3"].picked_up_at is None
    assert report.payroll is not None
    pay = {p.deliverer: p for p in report.payroll}
    assert pay["Ana Lúcia"].total == Decimal("102.35") and pay["Ana Lúcia"].deliveries == 1
    assert pay["Bruno"].total == Decimal("81.20")
    assert report.payroll_total == Decimal("183.55")


async def test_open_session_report_has_no_payroll_and_is_for_managers(
    uow_factory: UowFactory, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    courier = await make_user(Role.DELIVERER)
    async with uow_factory() as uow:
        session = await sessions.create_session(uow, manager, "Aberta")
        await deliverers.add_deliverer(uow, manager, session.id, courier.id, "1.00", "1.00")
        await packages.add_packages(uow, manager, session.id, [PackageData("O-1")])
        await uow.commit()
    async with uow_factory() as uow:
        report = await reports.build_session_report(uow, session.id, manager)
        assert report.payroll is None and report.payroll_total is None
        for other in (courier, await make_user(Role.MANAGER)):
            with pytest.raises(PermissionDenied):
                await reports.build_session_report(uow, session.id, other)


async def test_export_stores_the_file_under_its_session(
    uow_factory: UowFactory, make_user: MakeUser, tmp_path: Path
) -> None:
    manager = await make_user(Role.MANAGER)
    a = await make_user(Role.DELIVERER, "Ana Lúcia")
    b = await make_user(Role.DELIVERER, "Bruno")
    sid = await _finished(uow_factory, manager, a, b)
    store = storage.LocalStore(tmp_path, secrets.token_bytes(32), "/objects")
    keys = []
    for fmt in ("CSV", "XLSX", "PDF"):
        async with uow_factory() as uow:
            keys.append(await reports.export_session_report(uow, store, sid, manager, fmt))  # type: ignore[arg-type]
    for key, ext in zip(keys, ("csv", "xlsx", "pdf"), strict=True):
        assert key.startswith(f"reports/{sid}/") and key.endswith(f".{ext}")
        assert await store.exists(key)
    rows = list(
        csv.reader(io.StringIO((await store.get(keys[0])).decode("utf-8-sig")), delimiter=";")
    )
    assert rows[0] == ["Relatório da sessão Relatório"]
    assert [*rows[rows.index(["Pacotes"]) + 3][:3]] == ["R-2", "", "Não entregue"]
    assert rows[rows.index(["Pacotes"]) + 3][4] == "'=1+1"  # escaped
    assert ["Total", "", "", "", "", "183.55"] in rows


async def test_each_deliverers_route_is_in_the_report(
    runner: Runner, make_user: MakeUser, uow_factory: UowFactory
) -> None:
    run = runner.run_once
    manager = await make_user(Role.MANAGER)
    ana = await make_user(Role.DELIVERER, "Ana Lúcia")
    sid = (await run(manager, commands.CreateSession("Rotas"))).rows["session"].id
    await run(manager, commands.AddDeliverer(sid, "100.00", "2.00", user_id=ana.id))
    items = tuple(
        PackageData(
            f"RT-{k}",
            address=AddressData(
                street=f"Rua {k}",
                number=str(k),
                city="São Paulo",
                state="SP",
                postal_code="01310100",
                latitude=-23.55 + k * 0.004,
                longitude=-46.63,
            ),
        )
        for k in range(3)
    )
    await run(manager, commands.AddPackages(sid, items))
    options = routes.RouteOptions(depot_latitude=-23.55, depot_longitude=-46.64)
    await run(manager, commands.OptimizeRoutes(sid, options))
    async with uow_factory() as uow:
        built = await reports.build_session_report(uow, sid, manager)
    (route,) = built.routes
    assert route.deliverer == "Ana Lúcia" and len(route.stops) == 3
    assert [s.sequence for s in route.stops] == [1, 2, 3] and route.distance_m > 0
    assert sorted(c for s in route.stops for c in s.codes) == ["RT-0", "RT-1", "RT-2"]
    assert all(s.eta is not None and not s.done for s in route.stops)
    assert route.stops[0].address is not None and "01310-100" in route.stops[0].address
    pdf = render.render(built, "PDF")
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Rotas" in text and "Ana Lúcia: 3 paradas" in text
    for stop in route.stops:
        assert stop.codes[0] in text
