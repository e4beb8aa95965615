"""Structured addresses, a manager's pin and each deliverer's ordered stops, over real HTTP."""

from __future__ import annotations

import uuid
from typing import Any

from db.engine import make_sessionmaker
from domain import commands, routes
from domain.operations import Runner

ADD = """
mutation($sid: ID!, $packages: [PackageInput!]!) {
  addPackages(input: {sessionId: $sid, packages: $packages}) {
    __typename
    ... on AddPackagesSuccess { added { id address { id line street number complement
      neighbourhood city state postalCode latitude longitude precision provider packageCount } } }
    ... on Error { code message }
    ... on ValidationError { field }
  }
}
"""
PIN = """
mutation($id: ID!, $lat: Float!, $lon: Float!) {
  setAddressLocation(input: {addressId: $id, latitude: $lat, longitude: $lon}) {
    __typename
    ... on SetAddressLocationSuccess { address { id latitude longitude precision provider } }
    ... on Error { code }
  }
}
"""
STOPS = """
query($sid: ID!) { session(id: $sid) { deliverers { id routeStops {
  sequence done eta etaOffsetSeconds travelSeconds distanceMeters parcels packageIds
  address { id line latitude }
} } } }
"""


async def test_structured_addresses_pins_and_route_stops(make_user: Any, engine: Any) -> None:
    manager = await make_user("MANAGER")
    courier = await make_user("DELIVERER")
    sid = manager(
        'mutation { createSession(input: {name: "Rotas"}) { ... on SessionSuccess { session { id } } } }'
    )["createSession"]["session"]["id"]
    packages = [
        {
            "barcode": "GEO-1",
            "address": {
                "street": "R. das Flores",
                "number": "10",
                "complement": "Apto 2",
                "neighbourhood": "Centro",
                "city": "São Paulo",
                "state": "sp",
                "postalCode": "01310100",
            },
        },
        # GEO-1's street and number without its flat: another address, and the same one
        # whether given as a line or in parts.
        {
            "barcode": "GEO-2",
            "address": {
                "line": "Rua das Flores, nº 10",
                "city": "São Paulo/SP",
                "postalCode": "01310-100",
            },
        },
        {
            "barcode": "GEO-3",
            "address": {
                "street": "Rua das Flores",
                "number": "10",
                "city": "São Paulo",
                "state": "SP",
                "postalCode": "01310-100",
            },
        },
        {
            "barcode": "GEO-4",
            "address": {"line": "Av. Paulista, 1000", "latitude": -23.56, "longitude": -46.65},
        },
    ]
    added = manager(ADD, sid=sid, packages=packages)["addPackages"]
    assert added["__typename"] == "AddPackagesSuccess", added
    first, second, third, fourth = (p["address"] for p in added["added"])
    assert first["line"] == "R. das Flores, 10, Apto 2 - Centro"
    assert (first["state"], first["postalCode"], first["precision"]) == ("SP", "01310-100", None)
    assert second["street"] is None and second["line"] == "Rua das Flores, nº 10"
    assert second["id"] == third["id"] and third["packageCount"] == 2, "line and parts: one address"
    assert (fourth["precision"], fourth["provider"]) == ("MANUAL", "input")

    bad = manager(
        ADD,
        sid=sid,
        packages=[{"barcode": "GEO-5", "address": {"street": "Rua A", "postalCode": "123"}}],
    )["addPackages"]
    assert (bad["__typename"], bad["code"], bad["field"]) == (
        "ValidationError",
        "CEP_INVALID",
        "packages[0].address.postalCode",
    )

    for address in (first, second):
        pinned = manager(PIN, id=address["id"], lat=-23.5505, lon=-46.6333)["setAddressLocation"]
        assert (
            pinned["address"]["precision"] == "MANUAL" and pinned["address"]["provider"] == "manual"
        )
    denied = courier(PIN, id=first["id"], lat=0.0, lon=0.0)["setAddressLocation"]
    assert denied["__typename"] in ("PermissionDeniedError", "NotFoundError")

    # The job will run this; here the test runs the command itself.
    runner = Runner(make_sessionmaker(engine))
    from db.models import User

    async with runner.uow() as uow:
        boss: User = await uow.users.get(uuid.UUID(manager.id))  # type: ignore[assignment]
    await runner.run_once(
        boss, commands.AddDeliverer(uuid.UUID(sid), "1.00", "1.00", user_id=uuid.UUID(courier.id))
    )
    await runner.run_once(
        boss,
        commands.OptimizeRoutes(
            uuid.UUID(sid), routes.RouteOptions(depot_latitude=-23.55, depot_longitude=-46.63)
        ),
    )
    (deliverer,) = manager(STOPS, sid=sid)["session"]["deliverers"]
    stops = deliverer["routeStops"]
    assert [s["sequence"] for s in stops] == [1, 2, 3]
    assert sum(s["parcels"] for s in stops) == 4 and not any(s["done"] for s in stops)
    assert [s["etaOffsetSeconds"] for s in stops] == sorted(s["etaOffsetSeconds"] for s in stops)
    assert all(s["address"]["latitude"] is not None for s in stops)
