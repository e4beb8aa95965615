"""Geocoding a session through the runner: the cache across sessions, progress, what could
not be placed, a provider that is down, and a manager's pin."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import geo
from db.enums import Role
from domain import commands, geocoding
from domain.actions import Action
from domain.addresses import AddressData
from domain.errors import NotFound, PermissionDenied, ValidationFailed
from domain.operations import Runner
from domain.packages import PackageData
from geo.address import normalize_street
from tests.domain.conftest import MakeUser
from tests.geo.fakes import FakeProviders, Place, dead_url, serve

CEP = "01310100"


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders(
        places={
            normalize_street("Avenida Paulista 1000"): Place(-23.5613, -46.6565),
            normalize_street("Rua Augusta 500"): Place(-23.5540, -46.6520),
        },
        ceps={CEP: (-23.5614, -46.6559)},
    )
    with serve(providers) as running:
        yield running


def geocoder(fake: FakeProviders) -> geo.Geocoder:
    return geo.build(
        "nominatim",
        url=fake.url,
        cep_url=f"{fake.url}/api/cep/v2/{{cep}}",
        user_agent="Bipa-tests/1.0",
        timeout_s=1.0,
    )


async def session_with(runner: Runner, manager: object, items: list[PackageData]) -> uuid.UUID:
    created = await runner.run_once(manager, commands.CreateSession("Geo"))  # type: ignore[arg-type]
    sid: uuid.UUID = created.rows["session"].id
    await runner.run_once(manager, commands.AddPackages(sid, tuple(items)))  # type: ignore[arg-type]
    return sid


ADDRESSES = [
    AddressData(
        street="Av. Paulista", number="1000", city="São Paulo", state="SP", postal_code=CEP
    ),
    AddressData(street="Rua Augusta", number="500", city="São Paulo", state="SP"),
    # Only the CEP's centroid places it.
    AddressData(street="Rua Nova", number="1", city="São Paulo", postal_code=CEP),
    # Nothing places it.
    AddressData("Travessa Perdida, 3", "Lugar Nenhum"),
]


async def test_a_session_is_geocoded_through_the_chain_with_progress(
    runner: Runner, make_user: MakeUser, fake: FakeProviders
) -> None:
    manager = await make_user(Role.MANAGER)
    items = [PackageData(f"LBR-{k}", address=a) for k, a in enumerate(ADDRESSES)]
    # The same address twice (another flat): one row per key, one provider question.
    items.append(
        PackageData(
            "LBR-9",
            address=AddressData(
                street="Avenida Paulista",
                number="1000",
                complement="Apto 2",
                city="São Paulo",
                state="SP",
                postal_code="01310-100",
            ),
        )
    )
    sid = await session_with(runner, manager, items)
    seen: list[tuple[int, int]] = []
    g = geocoder(fake)
    report = await geocoding.geocode_session(
        runner, manager, sid, g, on_progress=lambda d, t: seen.append((d, t)), batch_size=2
    )
    await g.aclose()
    assert report.total == 5 and report.placed == 4 and len(report.unplaced) == 1
    assert report.provider_calls == 4, "the two flats of one building are asked once"
    assert seen[0] == (0, 5) and seen[-1] == (5, 5) and len(seen) == 4
    async with runner.uow() as uow:
        rows = {a.line: a for a in await uow.addresses.for_sessions([sid])}
        audit = await uow.audit.after(sid, 0, 1000)
    paulista = rows["Av. Paulista, 1000"]
    assert (paulista.geo_precision, paulista.geo_provider) == ("ROOFTOP", "nominatim")
    assert (
        rows["Rua Nova, 1"].geo_precision == "CEP"
        and rows["Rua Nova, 1"].geo_provider == "brasilapi"
    )
    lost = rows["Travessa Perdida, 3"]
    assert (
        lost.latitude is None
        and lost.geocoding_cache is not None
        and not lost.geocoding_cache["found"]
    )
    assert report.unplaced == [lost.id] and report.retry_later == []
    batches = [e for e in audit if e.action == Action.ADDRESSES_GEOCODED]
    assert len(batches) == 3 and "latitude" not in str(batches[0].details)


async def test_an_address_is_asked_once_across_sessions(
    runner: Runner, make_user: MakeUser, fake: FakeProviders
) -> None:
    manager = await make_user(Role.MANAGER)
    g = geocoder(fake)
    first = await session_with(
        runner, manager, [PackageData(f"A-{k}", address=a) for k, a in enumerate(ADDRESSES)]
    )
    await geocoding.geocode_session(runner, manager, first, g)
    asked = len(fake.requests)
    # Typed differently in the next session: the normalised key is the same.
    again = [
        AddressData(
            street="AVENIDA PAULISTA",
            number="nº 1000",
            city="sao paulo",
            state="sp",
            postal_code="01310-100",
        ),
        AddressData("R. Augusta, 500", "São Paulo/SP"),
        AddressData("Travessa Perdida, 3", "Lugar Nenhum"),
    ]
    second = await session_with(
        runner, manager, [PackageData(f"B-{k}", address=a) for k, a in enumerate(again)]
    )
    report = await geocoding.geocode_session(runner, manager, second, g)
    await g.aclose()
    assert len(fake.requests) == asked, "everything came from the cache, the miss too"
    assert report.from_cache == 3 and report.placed == 2 and report.provider_calls == 0


async def test_a_provider_that_is_down_is_retried_later_not_cached(
    runner: Runner, make_user: MakeUser, fake: FakeProviders
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await session_with(runner, manager, [PackageData("X-1", address=ADDRESSES[1])])
    down = geo.build("photon", url=dead_url(), cep_url=None, user_agent="t", timeout_s=0.5)
    report = await geocoding.geocode_session(runner, manager, sid, down)
    assert (
        report.placed == 0 and report.retry_later == report.unplaced and len(report.unplaced) == 1
    )
    async with runner.uow() as uow:
        assert await uow.geocodes.cached(["rua augusta 500|sao paulo sp|"]) == {}
    # Later, with the provider back, the same run places it.
    g = geocoder(fake)
    report = await geocoding.geocode_session(runner, manager, sid, g)
    await g.aclose()
    assert report.placed == 1


async def test_a_deliverer_cannot_geocode_a_session(
    runner: Runner, make_user: MakeUser, fake: FakeProviders
) -> None:
    manager = await make_user(Role.MANAGER)
    other = await make_user(Role.MANAGER)
    sid = await session_with(runner, manager, [PackageData("X-1", address=ADDRESSES[0])])
    g = geocoder(fake)
    with pytest.raises((PermissionDenied, NotFound)):
        await geocoding.geocode_session(runner, other, sid, g)
    await g.aclose()
    assert fake.requests == []


async def test_a_manager_pins_an_address(runner: Runner, make_user: MakeUser) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await session_with(runner, manager, [PackageData("X-1", address=ADDRESSES[3])])
    async with runner.uow() as uow:
        (address,) = await uow.addresses.for_sessions([sid])
    done = await runner.run_once(
        manager, commands.SetAddressLocation(address.id, -23.5, -46.6), "pin-1"
    )
    assert done.rows["address"].geo_precision == "MANUAL"
    async with runner.uow() as uow:
        (row,) = await uow.addresses.for_sessions([sid])
        audit = await uow.audit.after(sid, 0, 1000)
    assert (row.latitude, row.longitude, row.geo_provider) == (-23.5, -46.6, "manual")
    pinned = [e for e in audit if e.action == Action.ADDRESS_LOCATED]
    assert pinned and pinned[0].details["after"]["precision"] == "MANUAL"
    assert "-23.5" not in str(pinned[0].details), "no coordinates in the audit"
    with pytest.raises(ValidationFailed) as err:
        await runner.run_once(manager, commands.SetAddressLocation(address.id, 91.0, 0.0))
    assert err.value.code == "COORDINATE_OUT_OF_RANGE"
    with pytest.raises(NotFound) as missing:
        await runner.run_once(manager, commands.SetAddressLocation(uuid.uuid4(), 0.0, 0.0))
    assert missing.value.code == "ADDRESS_NOT_FOUND"
    deliverer = await make_user(Role.DELIVERER)
    with pytest.raises(PermissionDenied):
        await runner.run_once(deliverer, commands.SetAddressLocation(address.id, 1.0, 1.0))


async def test_coordinates_sent_with_an_address_are_the_callers_pin(
    runner: Runner, make_user: MakeUser
) -> None:
    manager = await make_user(Role.MANAGER)
    sid = await session_with(
        runner,
        manager,
        [PackageData("X-1", address=AddressData("Rua A, 1", latitude=-23.0, longitude=-46.0))],
    )
    async with runner.uow() as uow:
        (row,) = await uow.addresses.for_sessions([sid])
    assert (row.geo_precision, row.geo_provider) == ("MANUAL", "input")
