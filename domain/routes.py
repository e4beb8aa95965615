"""Route optimization of a session: who delivers what, in which order, with ETAs.

`optimize_routes` runs inside the command's transaction, under the session's lock: it reads
the deliverers and the open packages, solves (routing/, in a worker thread, bounded by the
solver's timeout), then assigns the packages through `packages.assign_packages` (the service
of assignPackages: audited, live, webhooks) and writes each deliverer's `route` and the
session's `route_optimization_data`. A refusal raises before anything is written; the
transaction holds everything else, so nothing is ever half-written.

Re-run mid-day: only PENDING and PICKED_UP packages are routed; a picked-up parcel stays with
the deliverer who carries it (its stop is pinned to them); each deliverer starts where they
last finished a package; finished stops of the previous route stay in `route.done`.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import routing
from db.base import utcnow
from db.enums import FINAL_DELIVERY_STATUSES, DeliveryStatus
from db.models import DeliverySession, SessionAddress, SessionDeliverer, SessionPackage, User
from domain import packages, permissions
from domain.actions import Action
from domain.errors import ValidationFailed
from domain.uow import UnitOfWork


@dataclass(frozen=True)
class RouteConfig:
    """The server's routing settings (bipa/settings.py)."""

    depot: tuple[float, float] | None = None
    osrm_url: str | None = None
    detour: float = routing.matrix.DETOUR
    speed_kmh: float = routing.matrix.SPEED_KMH
    timeout_s: float = 1.5
    default_capacity: int = 80
    service_s: int = 120
    per_parcel_s: int = 30
    threads: int = 2


@dataclass(frozen=True)
class VehicleOptions:
    deliverer_id: uuid.UUID
    capacity: int | None = None
    shift_start: datetime | None = None
    shift_end: datetime | None = None


@dataclass(frozen=True)
class RouteOptions:
    """`balance`: how much more than an even share (of stops, and of route time) one
    deliverer may get; None: the shortest total, however uneven."""

    depot_latitude: float | None = None
    depot_longitude: float | None = None
    balance: float | None = 0.1
    capacity: int | None = None
    vehicles: tuple[VehicleOptions, ...] = ()
    start_at: datetime | None = None
    return_to_depot: bool = False
    timeout_s: float | None = None


Groups = dict[tuple[uuid.UUID, uuid.UUID | None], list[SessionPackage]]


@dataclass
class RoutesResult:
    session: DeliverySession
    deliverers: list[SessionDeliverer]
    assigned: list[SessionPackage] = field(default_factory=list)
    unplaced: list[uuid.UUID] = field(default_factory=list)
    unassigned: list[uuid.UUID] = field(default_factory=list)


def _refuse(message: str, *, code: str, field: str = "options", **params: str) -> ValidationFailed:
    return ValidationFailed(message, field=field, code=code, params=params)


def _depot(options: RouteOptions, config: RouteConfig) -> routing.Point:
    if options.depot_latitude is not None and options.depot_longitude is not None:
        lat, lon = options.depot_latitude, options.depot_longitude
    elif config.depot is not None:
        lat, lon = config.depot
    else:
        raise _refuse(
            "no depot: set BIPA_DEPOT_LAT/LON or give one", code="DEPOT_NOT_SET", field="depot"
        )
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise _refuse("the depot's coordinates are out of range", code="COORDINATE_OUT_OF_RANGE")
    return routing.Point(lat, lon)


def _check_options(options: RouteOptions, deliverers: list[SessionDeliverer]) -> None:
    if options.balance is not None and not 0 <= options.balance <= 10:
        raise _refuse(
            "balance must be between 0 and 10", code="ROUTE_BALANCE_INVALID", field="balance"
        )
    if options.timeout_s is not None and not 0.1 <= options.timeout_s <= 60:
        raise _refuse(
            "timeout must be between 0.1 and 60 s", code="ROUTE_TIMEOUT_INVALID", field="timeout"
        )
    ids = {d.id for d in deliverers}
    for v in options.vehicles:
        if v.deliverer_id not in ids:
            raise _refuse(
                "deliverer is not part of this session",
                code="DELIVERER_NOT_IN_SESSION",
                field="vehicles",
            )
        if v.capacity is not None and v.capacity < 1:
            raise _refuse(
                "capacity must be at least 1", code="ROUTE_CAPACITY_INVALID", field="vehicles"
            )
    if options.capacity is not None and options.capacity < 1:
        raise _refuse(
            "capacity must be at least 1", code="ROUTE_CAPACITY_INVALID", field="capacity"
        )


def _seconds(at: datetime | None, start: datetime) -> int | None:
    return None if at is None else max(0, round((at - start).total_seconds()))


@dataclass
class Prepared:
    """What a route optimization solves, read and checked under the session's lock."""

    session: DeliverySession
    deliverers: list[SessionDeliverer]
    open_ids: set[str]
    groups: Groups
    stop_keys: list[tuple[uuid.UUID, uuid.UUID | None]]
    unplaced: list[uuid.UUID]
    depot: routing.Point
    vehicles: list[routing.Vehicle]
    stops: list[routing.Stop]
    start: datetime


async def prepare(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    options: RouteOptions,
    config: RouteConfig,
) -> Prepared:
    """Every refusal of an optimization that needs no solver: the same checks when the job
    is asked for (its mutation answers them as data) and when it runs."""
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    deliverers = await uow.deliverers.for_session(session.id)
    if not deliverers:
        raise _refuse("the session has no deliverers", code="NO_DELIVERERS")
    _check_options(options, deliverers)
    depot = _depot(options, config)
    open_packages = await uow.packages.not_final(session.id)
    address_ids = sorted({p.address_id for p in open_packages if p.address_id is not None})
    places = {a.id: a for a in await uow.addresses.get_many(address_ids)}
    groups, unplaced = _stops(open_packages, places)
    if not groups:
        raise _refuse("no open package of the session has a place", code="NO_GEOCODED_PACKAGES")
    start = options.start_at or utcnow()
    overrides = {v.deliverer_id: v for v in options.vehicles}
    capacity = {
        d.id: (overrides[d.id].capacity if d.id in overrides else None)
        or options.capacity
        or config.default_capacity
        for d in deliverers
    }
    _check_capacity(groups, capacity)
    vehicles = await _vehicles(uow, session.id, deliverers, overrides, capacity, start)
    stop_keys = list(groups)
    stops = [
        routing.Stop(
            str(n),
            _point(places[address_id]),
            len(groups[(address_id, pin)]),
            config.service_s + config.per_parcel_s * len(groups[(address_id, pin)]),
            str(pin) if pin is not None else None,
        )
        for n, (address_id, pin) in enumerate(stop_keys)
    ]
    return Prepared(
        session,
        deliverers,
        {str(p.id) for p in open_packages},
        groups,
        stop_keys,
        unplaced,
        depot,
        vehicles,
        stops,
        start,
    )


async def optimize_routes(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID,
    options: RouteOptions,
    config: RouteConfig,
) -> RoutesResult:
    ready = await prepare(uow, actor, session_id, options, config)
    session, deliverers = ready.session, ready.deliverers
    groups, stop_keys = ready.groups, ready.stop_keys
    depot, vehicles, stops, start = ready.depot, ready.vehicles, ready.stops, ready.start
    unplaced = ready.unplaced
    problem = routing.Problem(depot, tuple(vehicles), tuple(stops))
    solver_options = routing.Options(
        balance=options.balance,
        timeout_s=options.timeout_s or config.timeout_s,
        threads=config.threads,
        return_to_depot=options.return_to_depot,
    )
    matrix = await _matrix(problem, config)
    try:
        plan = await routing.solve_within(problem, matrix, solver_options)
    except routing.RoutingError as exc:
        if exc.code == "ROUTING_TIMEOUT":
            raise _refuse(exc.message, code="ROUTE_SOLVER_TIMEOUT") from None
        raise _refuse(exc.message, code="ROUTE_SOLVER_FAILED") from None
    result = RoutesResult(session, deliverers, unplaced=unplaced)
    open_ids = ready.open_ids
    by_deliverer = {d.id: d for d in deliverers}
    for route in plan.routes:
        deliverer = by_deliverer[uuid.UUID(route.vehicle_id)]
        mine = [p for s in route.stops for p in groups[stop_keys[int(s.stop_id)]]]
        for chunk in range(0, len(mine), packages.MAX_PACKAGES_PER_CALL):
            ids = [p.id for p in mine[chunk : chunk + packages.MAX_PACKAGES_PER_CALL]]
            assigned, _ = await packages.assign_packages(uow, actor, session.id, ids, deliverer.id)
            result.assigned.extend(assigned)
        deliverer.route = _route_json(route, stop_keys, groups, start, deliverer.route, open_ids)
    for sid in plan.unassigned:
        result.unassigned.extend(p.id for p in groups[stop_keys[int(sid)]])
    session.route_optimization_data = {
        "at": utcnow().isoformat(),
        "startAt": start.isoformat(),
        "solver": plan.solver,
        "matrix": matrix.source,
        "cost": plan.cost,
        "solveMs": plan.solve_ms,
        "totalS": plan.total_s,
        "balance": round(plan.balance(), 3),
        "inputs": {
            "depot": {"latitude": depot.latitude, "longitude": depot.longitude},
            "options": _options_json(options, solver_options),
            "deliverers": [
                {
                    "delivererId": v.id,
                    "capacity": v.capacity,
                    "shiftStartS": v.shift_start_s,
                    "shiftEndS": v.shift_end_s,
                    "fromLastStop": v.start is not None,
                }
                for v in vehicles
            ],
            "stops": len(stops),
            "parcels": sum(s.amount for s in stops),
        },
        "unassigned": [str(p) for p in result.unassigned],
        "unplaced": [str(p) for p in unplaced],
    }
    uow.record(
        session,
        Action.ROUTES_OPTIMIZED,
        actor.id,
        {
            "deliverers": len(deliverers),
            "stops": len(stops),
            "unassigned": len(result.unassigned),
            "unplaced": len(unplaced),
            "cost": plan.cost,
        },
    )
    await uow.flush()
    return result


def _stops(
    open_packages: list[SessionPackage], places: dict[uuid.UUID, SessionAddress]
) -> tuple[Groups, list[uuid.UUID]]:
    """One stop per address (and per deliverer already carrying some of its parcels), and
    the packages that have no place."""
    groups: Groups = defaultdict(list)
    unplaced: list[uuid.UUID] = []
    for p in open_packages:
        row = places.get(p.address_id) if p.address_id is not None else None
        if row is None or not _placed(row):
            unplaced.append(p.id)
            continue
        # A parcel on board stays with the deliverer who carries it.
        pin = p.deliverer_id if p.status is DeliveryStatus.PICKED_UP else None
        groups[(row.id, pin)].append(p)
    return groups, unplaced


def _placed(row: SessionAddress | None) -> bool:
    return row is not None and row.latitude is not None and row.longitude is not None


def _point(row: SessionAddress) -> routing.Point:
    if row.latitude is None or row.longitude is None:
        raise TypeError("an unplaced address has no point")  # a bug: _stops filters them
    return routing.Point(row.latitude, row.longitude)


async def _vehicles(
    uow: UnitOfWork,
    session_id: uuid.UUID,
    deliverers: list[SessionDeliverer],
    overrides: dict[uuid.UUID, VehicleOptions],
    capacity: dict[uuid.UUID, int],
    start: datetime,
) -> list[routing.Vehicle]:
    """Each deliverer as a vehicle, starting where they last finished a package (if placed)."""
    here = await uow.packages.last_final_addresses(session_id)
    rows = {a.id: a for a in await uow.addresses.get_many(sorted(set(here.values())))}
    vehicles = []
    for d in deliverers:
        v = overrides.get(d.id)
        at = rows.get(here[d.id]) if d.id in here else None
        vehicles.append(
            routing.Vehicle(
                str(d.id),
                capacity[d.id],
                _seconds(v.shift_start if v else None, start),
                _seconds(v.shift_end if v else None, start),
                _point(at) if at is not None and _placed(at) else None,
            )
        )
    return vehicles


def _check_capacity(
    groups: Groups,
    capacity: dict[uuid.UUID, int],
) -> None:
    parcels = sum(len(g) for g in groups.values())
    room = sum(capacity.values())
    if parcels > room:
        raise _refuse(
            f"{parcels} parcels do not fit in the deliverers' total capacity of {room}",
            code="ROUTE_CAPACITY_EXCEEDED",
            parcels=str(parcels),
            capacity=str(room),
        )
    carried: dict[uuid.UUID, int] = defaultdict(int)
    for (_, pin), group in groups.items():
        if pin is not None:
            carried[pin] += len(group)
    for deliverer_id, count in carried.items():
        if count > capacity.get(deliverer_id, 0):
            raise _refuse(
                f"a deliverer carries {count} parcels, more than their capacity",
                code="ROUTE_CAPACITY_EXCEEDED",
                parcels=str(count),
                capacity=str(capacity.get(deliverer_id, 0)),
            )


async def _matrix(problem: routing.Problem, config: RouteConfig) -> routing.Matrix:
    points = routing.locations(problem)
    if config.osrm_url:
        try:
            return await routing.osrm(config.osrm_url, points, timeout_s=10.0)
        except routing.RoutingError:
            # Straight lines still give balanced routes; the data says which matrix was used.
            fallback = routing.straight(points, config.detour, config.speed_kmh)
            return routing.Matrix(
                fallback.durations, fallback.distances, f"{fallback.source} (OSRM unavailable)"
            )
    return routing.straight(points, config.detour, config.speed_kmh)


def _route_json(
    route: routing.Route,
    stop_keys: list[tuple[uuid.UUID, uuid.UUID | None]],
    groups: Groups,
    start: datetime,
    previous: dict[str, Any] | None,
    open_ids: set[str],
) -> dict[str, Any]:
    stops = []
    for n, planned in enumerate(route.stops, start=1):
        address_id, _ = stop_keys[int(planned.stop_id)]
        group = groups[stop_keys[int(planned.stop_id)]]
        stops.append(
            {
                "sequence": n,
                "addressId": str(address_id),
                "packageIds": [str(p.id) for p in group],
                "parcels": len(group),
                "etaOffsetS": planned.arrival_s,
                "eta": (start + timedelta(seconds=planned.arrival_s)).isoformat(),
                "travelS": planned.travel_s,
                "distanceM": planned.distance_m,
            }
        )
    return {
        "optimizedAt": utcnow().isoformat(),
        "startAt": start.isoformat(),
        "stops": stops,
        "done": _done(previous, open_ids),
        "durationS": route.duration_s,
        "travelS": route.travel_s,
        "distanceM": route.distance_m,
    }


def _done(previous: dict[str, Any] | None, open_ids: set[str]) -> list[dict[str, Any]]:
    """The previous route's stops whose packages are all finished: they stay as they were."""
    if not previous:
        return []
    still_open = open_ids
    kept = list(previous.get("done", []))
    for stop in previous.get("stops", []):
        if not any(pid in still_open for pid in stop.get("packageIds", [])):
            kept.append(stop)
    return kept


def _options_json(options: RouteOptions, solver: routing.Options) -> dict[str, Any]:
    data = asdict(options)
    data["vehicles"] = [
        {k: (str(v) if isinstance(v, (uuid.UUID, datetime)) else v) for k, v in vehicle.items()}
        for vehicle in data["vehicles"]
    ]
    if options.start_at is not None:
        data["start_at"] = options.start_at.isoformat()
    data["solverTimeoutS"] = solver.timeout_s
    data["exploration"] = solver.exploration
    return data


# --- options as a job's parameters ------------------------------------------------------------


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise _refuse("times must carry their UTC offset", code="ROUTE_TIME_NAIVE")
    return parsed


def options_to_json(options: RouteOptions) -> dict[str, Any]:
    """A job's parameters: what its same-work check compares, and what its run reads back."""
    return {
        "depotLatitude": options.depot_latitude,
        "depotLongitude": options.depot_longitude,
        "balance": options.balance,
        "capacity": options.capacity,
        "vehicles": [
            {
                "delivererId": str(v.deliverer_id),
                "capacity": v.capacity,
                "shiftStart": v.shift_start.isoformat() if v.shift_start else None,
                "shiftEnd": v.shift_end.isoformat() if v.shift_end else None,
            }
            for v in options.vehicles
        ],
        "startAt": options.start_at.isoformat() if options.start_at else None,
        "returnToDepot": options.return_to_depot,
        "timeoutS": options.timeout_s,
    }


def options_from_json(data: dict[str, Any]) -> RouteOptions:
    return RouteOptions(
        depot_latitude=data.get("depotLatitude"),
        depot_longitude=data.get("depotLongitude"),
        # Absent (not null): the default balance; null asks for the shortest total.
        balance=data.get("balance", RouteOptions.balance),
        capacity=data.get("capacity"),
        vehicles=tuple(
            VehicleOptions(
                uuid.UUID(v["delivererId"]),
                v.get("capacity"),
                _time(v.get("shiftStart")),
                _time(v.get("shiftEnd")),
            )
            for v in data.get("vehicles", [])
        ),
        start_at=_time(data.get("startAt")),
        return_to_depot=bool(data.get("returnToDepot")),
        timeout_s=data.get("timeoutS"),
    )


# --- a deliverer's next stop ------------------------------------------------------------------


@dataclass
class NextStop:
    """The first stop of a deliverer's route with a parcel of theirs still open."""

    deliverer: SessionDeliverer
    stop: dict[str, Any]
    remaining: int  # open stops of the route, this one included
    address: SessionAddress | None
    packages: list[SessionPackage]


# How next_stop reads: by the unit of work (the bot), or by an operation's DataLoaders, which
# batch the reads of every deliverer of a query into one statement per kind (GraphQL).
PackagesById = Callable[[list[uuid.UUID]], Awaitable[Sequence[SessionPackage | None]]]
AddressById = Callable[[uuid.UUID], Awaitable[SessionAddress | None]]


async def next_stop(
    deliverer: SessionDeliverer, packages: PackagesById, address: AddressById
) -> NextStop | None:
    """None when the route is empty or done. A parcel delivered, failed or handed to someone
    else since the route was optimized no longer makes its stop open."""
    stops: list[dict[str, Any]] = list((deliverer.route or {}).get("stops", []))
    ids = [uuid.UUID(pid) for s in stops for pid in s.get("packageIds", [])]
    rows = {str(p.id): p for p in await packages(ids) if p is not None} if ids else {}

    def still_mine(stop: dict[str, Any]) -> list[SessionPackage]:
        found = [rows.get(pid) for pid in stop.get("packageIds", [])]
        return [
            p
            for p in found
            if p is not None
            and p.deliverer_id == deliverer.id
            and p.status not in FINAL_DELIVERY_STATUSES
        ]

    open_stops = [(s, mine) for s in stops if (mine := still_mine(s))]
    if not open_stops:
        return None
    stop, mine = open_stops[0]
    where = await address(uuid.UUID(stop["addressId"]))
    return NextStop(deliverer, stop, len(open_stops), where, mine)


async def my_next_stop(uow: UnitOfWork, actor: User, session_id: uuid.UUID) -> NextStop | None:
    """The caller's own next stop in a session they deliver in (None if they do not)."""
    deliverer = await uow.deliverers.by_user(session_id, actor.id)
    if deliverer is None:
        return None
    return await read_next_stop(uow, deliverer)


async def read_next_stop(uow: UnitOfWork, deliverer: SessionDeliverer) -> NextStop | None:
    """`next_stop` reading through a unit of work (one deliverer at a time: the bot)."""

    async def address(address_id: uuid.UUID) -> SessionAddress | None:
        return next(iter(await uow.addresses.get_many([address_id])), None)

    return await next_stop(deliverer, uow.packages.get_many, address)
