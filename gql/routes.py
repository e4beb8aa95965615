"""Geocoding a session and optimizing its routes: mutations that start a job (gql/jobs.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain import commands, routes
from domain.errors import DomainError
from gql.context import Context
from gql.enums import JobKind
from gql.errors import to_error
from gql.jobs import Job, JobResult, JobSuccess, start_job
from gql.runner import parse_uuid


@strawberry.input(description="One deliverer's limits for an optimization.")
class VehicleOptionsInput:
    deliverer_id: strawberry.ID = strawberry.field(description="A SessionDeliverer's id.")
    capacity: int | None = strawberry.field(
        default=None, description="Parcels they carry (the optimization's capacity otherwise)."
    )
    shift_start: datetime | None = strawberry.field(
        default=None, description="Not on the road before this (with its UTC offset)."
    )
    shift_end: datetime | None = strawberry.field(
        default=None, description="Back, or at their last stop, by this."
    )


@strawberry.input(description="How routes are optimized; every field has a default.")
class RouteOptionsInput:
    depot_latitude: float | None = strawberry.field(
        default=None, description="Where deliverers leave from (BIPA_DEPOT_LAT otherwise)."
    )
    depot_longitude: float | None = strawberry.field(
        default=None, description="Where deliverers leave from (BIPA_DEPOT_LON otherwise)."
    )
    balance: float | None = strawberry.field(
        default=0.1,
        description="How much more than an even share of stops and of route time one "
        "deliverer may get (0.1: 10%); null: the shortest total, however uneven.",
    )
    capacity: int | None = strawberry.field(
        default=None, description="Parcels each deliverer carries (BIPA_ROUTE_CAPACITY otherwise)."
    )
    vehicles: list[VehicleOptionsInput] | None = strawberry.field(
        default=None, description="Per-deliverer capacity and shift window."
    )
    start_at: datetime | None = strawberry.field(
        default=None, description="When the routes start (now otherwise): ETAs count from it."
    )
    return_to_depot: bool = strawberry.field(
        default=False, description="Routes end back at the depot."
    )
    timeout_seconds: float | None = strawberry.field(
        default=None, description="How long the solver searches (BIPA_ROUTE_TIMEOUT otherwise)."
    )


def route_options(data: RouteOptionsInput | None) -> routes.RouteOptions:
    if data is None:
        return routes.RouteOptions()
    return routes.RouteOptions(
        depot_latitude=data.depot_latitude,
        depot_longitude=data.depot_longitude,
        balance=data.balance,
        capacity=data.capacity,
        vehicles=tuple(
            routes.VehicleOptions(
                parse_uuid(v.deliverer_id, "deliverer"), v.capacity, v.shift_start, v.shift_end
            )
            for v in data.vehicles or []
        ),
        start_at=data.start_at,
        return_to_depot=data.return_to_depot,
        timeout_s=data.timeout_seconds,
    )


async def _job(
    info: Info[Context, None], command: commands.CreateJob, key: str | None
) -> JobResult:
    try:
        row, created = await start_job(info, command, key)
    except DomainError as exc:
        return to_error(exc)
    return JobSuccess(job=Job(row=row), created=created)


SessionArg = Annotated[strawberry.ID, strawberry.argument(description="The session.")]
KeyArg = Annotated[
    str | None,
    strawberry.argument(
        description="A retry with the same key answers the same job instead of asking again."
    ),
]


@strawberry.type
class RouteMutations:
    @strawberry.mutation(
        description="Places the session's addresses that have no coordinates yet (the cache, "
        "then the geocoders: exact address, street + CEP, the CEP's centroid) as a job with "
        "progress; Job.result counts placed, unplaced and provider calls."
    )
    async def geocode_session(
        self,
        info: Info[Context, None],
        session_id: SessionArg,
        idempotency_key: KeyArg = None,
    ) -> JobResult:
        try:
            sid = parse_uuid(session_id, "session")
        except DomainError as exc:
            return to_error(exc)
        return await _job(
            info, commands.CreateJob(sid, JobKind.GEOCODE_SESSION, {}), idempotency_key
        )

    @strawberry.mutation(
        description="Splits the session's open, placed packages between its deliverers and "
        "orders each route (balanced unless options.balance is null) as a job; the routes "
        "are SessionDeliverer.routeStops. Refusals known at once (no deliverers, no depot, "
        "nothing placed, a read-only session) are answered here; later ones fail the job "
        "with their code in Job.result.error."
    )
    async def optimize_routes(
        self,
        info: Info[Context, None],
        session_id: SessionArg,
        options: Annotated[
            RouteOptionsInput | None,
            strawberry.argument(description="Depot, balance, capacities, shifts, start time."),
        ] = None,
        idempotency_key: KeyArg = None,
    ) -> JobResult:
        try:
            sid = parse_uuid(session_id, "session")
            params = {"options": routes.options_to_json(route_options(options))}
        except DomainError as exc:
            return to_error(exc)
        return await _job(
            info, commands.CreateJob(sid, JobKind.OPTIMIZE_ROUTES, params), idempotency_key
        )
