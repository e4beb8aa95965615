"""/proxima: a deliverer's next stop (the first open stop of their route: address and
parcels), in Portuguese, through the fake Bot API; it moves on as parcels are delivered."""

from __future__ import annotations

import uuid
from typing import Any

from db.engine import make_sessionmaker
from db.enums import DeliveryStatus
from domain import commands, routes
from domain.addresses import AddressData
from domain.operations import Runner
from domain.packages import PackageData

DEPOT = (-23.5505, -46.6333)


async def test_next_stop_for_a_deliverer(bot, person, engine, uow_maker) -> None:  # type: ignore[no-untyped-def]
    manager_chat = await person("MANAGER", "Marta Gerente")
    courier_chat = await person("DELIVERER", "João Entregador")
    runner = Runner(make_sessionmaker(engine))
    async with uow_maker() as uow:
        manager = await uow.users.by_telegram_id(str(manager_chat.id))
        courier = await uow.users.by_telegram_id(str(courier_chat.id))
    assert "não é entregador" not in await courier_chat.say("/proxima")  # no session: NoSession

    sid = (await runner.run_once(manager, commands.CreateSession("Rota Sul"))).rows["session"].id
    await runner.run_once(manager, commands.AddDeliverer(sid, "100.00", "2.00", user_id=courier.id))
    items = tuple(
        PackageData(
            f"SUL-{k}",
            f"Cliente {k}",
            AddressData(
                street=f"Rua Augusta {k}",
                number=str(100 + k),
                neighbourhood="Consolação",
                city="São Paulo",
                state="SP",
                latitude=DEPOT[0] + 0.004 * (k + 1),
                longitude=DEPOT[1],
            ),
        )
        for k in range(3)
    )
    await runner.run_once(manager, commands.AddPackages(sid, items))
    await runner.run_once(manager, commands.StartSession(sid))
    assert "Sua rota ainda não foi definida" in await courier_chat.say("/proxima")

    options = routes.RouteOptions(depot_latitude=DEPOT[0], depot_longitude=DEPOT[1], timeout_s=0.3)
    await runner.run_once(manager, commands.OptimizeRoutes(sid, options))
    async with uow_maker() as uow:
        (row,) = await uow.deliverers.for_session(sid)
    stops: list[dict[str, Any]] = row.route["stops"]  # type: ignore[index]
    async with uow_maker() as uow:
        by_id = {str(p.id): p for p in await uow.packages.not_final(sid)}

    text = await courier_chat.say("/proxima")
    first = by_id[stops[0]["packageIds"][0]]
    assert "📍 Próxima parada: 1ª da rota (3 em aberto)" in text, text
    assert first.barcode in text and f"({first.recipient_name})" in text
    assert "Consolação" in text and "Previsão de chegada:" in text
    assert "Entregar 1 pacote:" in text and "openstreetmap.org" in text

    await runner.run_once(courier, commands.UpdatePackageStatus(first.id, DeliveryStatus.DELIVERED))
    text = await courier_chat.say("/proxima")
    assert "2ª da rota (2 em aberto)" in text and by_id[stops[1]["packageIds"][0]].barcode in text
    for stop in stops[1:]:
        for pid in stop["packageIds"]:
            await runner.run_once(
                courier, commands.UpdatePackageStatus(uuid.UUID(pid), DeliveryStatus.DELIVERED)
            )
    # The last delivery completed the session: a deliverer's /proxima looks for a working one.
    done = await courier_chat.say("/proxima")
    assert "Próxima parada" not in done

    # A manager is no deliverer of their session.
    other = (await runner.run_once(manager, commands.CreateSession("Rota Norte"))).rows["session"]
    assert other.id
    assert "não é entregador" in await manager_chat.say("/proxima")
    help_text = await courier_chat.say("/help")
    assert "/proxima" in help_text
