"""The jobs of geocodeSession and optimizeRoutes run in process (jobs/work.py, the same path
the worker takes): refusals known when the job is asked for are answered with no job written,
progress per geocoding batch and per optimization step, the geocoder closed, later refusals a
FAILED job with the code in its result and nothing written."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import geo
from db.enums import DeliveryStatus, JobKind, JobStatus, Role
from db.models import User
from domain import commands, routes
from domain.addresses import AddressData
from domain.commands import Deps
from domain.errors import DomainError, ReadOnlySession, ValidationFailed
from domain.operations import Runner
from domain.packages import PackageData
from domain.proof import ProofConfig
from geo.address import normalize_street
from jobs import work
from jobs.deps import JobDeps
from tests.conftest import RecordingPublisher
from tests.domain.conftest import MakeUser
from tests.geo.fakes import FakeProviders, Place, serve

DEPOT = (-23.55, -46.63)


@pytest.fixture
def fake() -> Iterator[FakeProviders]:
    providers = FakeProviders(
        places={
            normalize_street(f"Rua {k} {k}"): Place(-23.55 + k * 0.003, -46.63) for k in range(6)
        }
    )
    with serve(providers) as running:
        yield running


def make_runner(
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: RecordingPublisher,
    depot: tuple[float, float] | None = DEPOT,
) -> Runner:
    config = routes.RouteConfig(depot=depot, timeout_s=0.3)
    return Runner(sessionmaker, publisher, deps=Deps(routes=config), group_commit=False)  # type: ignore[arg-type]


@pytest.fixture
def runner(sessionmaker: async_sessionmaker[AsyncSession], publisher: RecordingPublisher) -> Runner:
    return make_runner(sessionmaker, publisher)


class Tracked:
    """Geocoders made for jobs, to see each one closed."""

    def __init__(self, fake: FakeProviders) -> None:
        self.fake = fake
        self.made: list[geo.Geocoder] = []
        self.closed = 0

    def __call__(self) -> geo.Geocoder:
        g = geo.build("nominatim", url=self.fake.url, cep_url=None, user_agent="Bipa-tests/1")
        close = g.aclose

        async def aclose() -> None:
            self.closed += 1
            await close()

        g.aclose = aclose  # type: ignore[method-assign]
        self.made.append(g)
        return g


def deps_of(runner: Runner, geocoders: Tracked | None = None) -> JobDeps:
    files = ProofConfig(None)  # type: ignore[arg-type]  # these kinds write no files
    if geocoders is None:
        return JobDeps(runner=runner, files=files)
    return JobDeps(runner=runner, files=files, geocoder=geocoders)


async def session_with(
    runner: Runner, make_user: MakeUser, deliverers: int = 2, parcels: int = 6
) -> tuple[User, uuid.UUID]:
    manager = await make_user(Role.MANAGER)
    sid = (await runner.run_once(manager, commands.CreateSession("Rotas"))).rows["session"].id
    for _ in range(deliverers):
        courier = await make_user(Role.DELIVERER)
        await runner.run_once(
            manager, commands.AddDeliverer(sid, "100.00", "2.00", user_id=courier.id)
        )
    items = [
        PackageData(
            f"P-{k}",
            address=AddressData(street=f"Rua {k}", number=str(k), city="São Paulo", state="SP"),
        )
        for k in range(parcels)
    ]
    items.append(PackageData("LOST", address=AddressData("Travessa Perdida, 3")))
    await runner.run_once(manager, commands.AddPackages(sid, tuple(items)))
    return manager, sid


def optimize(sid: uuid.UUID, **options: object) -> commands.CreateJob:
    opts = routes.RouteOptions(**options)  # type: ignore[arg-type]
    return commands.CreateJob(
        sid, JobKind.OPTIMIZE_ROUTES, {"options": routes.options_to_json(opts)}
    )


def geocode(sid: uuid.UUID) -> commands.CreateJob:
    return commands.CreateJob(sid, JobKind.GEOCODE_SESSION, {})


async def job_count(runner: Runner, sid: uuid.UUID) -> int:
    async with runner.uow() as uow:
        return len(
            await uow.jobs.page(session_id=sid, owner_id=None, statuses=None, after=None, limit=100)
        )


async def run_job(runner: Runner, deps: JobDeps, created: commands.Done) -> object:
    job_id = uuid.UUID(created.ref["job"])
    await work.run(deps, job_id, last=True)
    async with runner.uow() as uow:
        return await uow.jobs.get(job_id)


def test_options_survive_the_jobs_parameters() -> None:
    vehicle = routes.VehicleOptions(
        uuid.uuid4(), 12, datetime.fromisoformat("2026-01-02T08:00:00+00:00"), None
    )
    opts = routes.RouteOptions(
        depot_latitude=-23.5,
        depot_longitude=-46.6,
        balance=None,
        capacity=30,
        vehicles=(vehicle,),
        start_at=datetime.fromisoformat("2026-01-02T08:00:00-03:00"),
        return_to_depot=True,
        timeout_s=2.0,
    )
    assert routes.options_from_json(routes.options_to_json(opts)) == opts
    assert routes.options_from_json({}) == routes.RouteOptions()
    assert routes.options_from_json({"balance": None}).balance is None
    with pytest.raises(ValidationFailed) as caught:
        routes.options_from_json({"startAt": "2026-01-02T08:00:00"})
    assert caught.value.code == "ROUTE_TIME_NAIVE"


async def test_refusals_known_up_front_write_no_job(
    runner: Runner,
    make_user: MakeUser,
    sessionmaker: async_sessionmaker[AsyncSession],
    publisher: RecordingPublisher,
) -> None:
    manager, sid = await session_with(runner, make_user)
    other, lonely = await session_with(runner, make_user, deliverers=0)
    no_depot = make_runner(sessionmaker, publisher, depot=None)
    codes = []
    for by, who, command in (
        (runner, manager, optimize(sid)),
        (no_depot, manager, optimize(sid)),
        (runner, other, optimize(lonely)),
        (runner, other, optimize(sid)),
    ):
        with pytest.raises(DomainError) as caught:
            await by.run_once(who, command)
        codes.append(caught.value.code)
    assert codes == [
        "NO_GEOCODED_PACKAGES",
        "DEPOT_NOT_SET",
        "NO_DELIVERERS",
        "NOT_SESSION_MANAGER",
    ]
    # A read-only session: neither kind.
    await runner.run_once(other, commands.StartSession(lonely))
    await runner.run_once(other, commands.CompleteSession(lonely, force=True))
    for command in (geocode(lonely), optimize(lonely)):
        with pytest.raises(ReadOnlySession):
            await runner.run_once(other, command)
    assert await job_count(runner, sid) == 0 and await job_count(runner, lonely) == 0


async def test_geocode_then_optimize_with_progress(
    runner: Runner, make_user: MakeUser, fake: FakeProviders
) -> None:
    manager, sid = await session_with(runner, make_user)
    geocoders = Tracked(fake)
    deps = deps_of(runner, geocoders)
    job = await run_job(runner, deps, await runner.run_once(manager, geocode(sid)))
    assert job.status is JobStatus.SUCCEEDED, job.last_error  # type: ignore[attr-defined]
    assert (job.done, job.total, job.progress) == (7, 7, 100)  # type: ignore[attr-defined]
    assert job.result["placed"] == 6 and job.result["unplaced"] == 1  # type: ignore[attr-defined]
    assert job.result["providerCalls"] == 7  # type: ignore[attr-defined]
    assert len(geocoders.made) == 1 and geocoders.closed == 1

    job = await run_job(runner, deps, await runner.run_once(manager, optimize(sid, balance=0.5)))
    assert job.status is JobStatus.SUCCEEDED, job.last_error  # type: ignore[attr-defined]
    assert (job.done, job.total) == (2, 3) and job.progress == 100  # type: ignore[attr-defined]
    assert job.result["stops"] == 6 and job.result["unplaced"] == 1  # type: ignore[attr-defined]
    async with runner.uow() as uow:
        deliverers = await uow.deliverers.for_session(sid)
        first = await routes.read_next_stop(uow, deliverers[0])
    assert sum(len(d.route["stops"]) for d in deliverers) == 6  # type: ignore[index]
    assert first is not None and first.stop["sequence"] == 1
    assert first.remaining == len(deliverers[0].route["stops"])  # type: ignore[index]
    # The first stop delivered: the next one is the second.
    await runner.run_once(manager, commands.StartSession(sid))
    for p in first.packages:
        await runner.run_once(manager, commands.UpdatePackageStatus(p.id, DeliveryStatus.DELIVERED))
    async with runner.uow() as uow:
        row = await uow.deliverers.get(deliverers[0].id)
        after = await routes.read_next_stop(uow, row)  # type: ignore[arg-type]
    if first.remaining > 1:
        assert after is not None and after.stop["sequence"] == 2
    else:
        assert after is None


async def test_a_refusal_when_it_runs_fails_the_job_with_its_code_and_writes_nothing(
    runner: Runner, make_user: MakeUser
) -> None:
    manager, sid = await session_with(runner, make_user)
    async with runner.uow() as uow:
        addresses = await uow.addresses.for_sessions([sid])
    await runner.run_once(manager, commands.SetAddressLocation(addresses[0].id, -23.5, -46.6))
    created = await runner.run_once(manager, optimize(sid, capacity=1))
    # Between the ask and the run, more parcels become placed than the deliverers carry.
    for a in addresses[1:3]:
        await runner.run_once(manager, commands.SetAddressLocation(a.id, -23.51, -46.61))
    job = await run_job(runner, deps_of(runner), created)
    assert job.status is JobStatus.FAILED  # type: ignore[attr-defined]
    assert job.result["error"]["code"] == "ROUTE_CAPACITY_EXCEEDED"  # type: ignore[attr-defined]
    assert job.last_error.startswith("ROUTE_CAPACITY_EXCEEDED")  # type: ignore[attr-defined]
    async with runner.uow() as uow:
        session = await uow.sessions.get(sid)
        deliverers = await uow.deliverers.for_session(sid)
        pkgs = await uow.packages.not_final(sid)
    assert session.route_optimization_data is None  # type: ignore[union-attr]
    assert all(d.route is None for d in deliverers)
    assert all(p.deliverer_id is None for p in pkgs)
