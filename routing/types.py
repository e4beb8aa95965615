"""A per-session routing problem and its plan."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Point:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Vehicle:
    """A deliverer. `start` defaults to the depot (a re-run mid-day starts where they are);
    `must` are the stop ids only this vehicle may serve (parcels it already carries)."""

    id: str
    capacity: int
    shift_start_s: int | None = None  # seconds from the plan's start
    shift_end_s: int | None = None
    start: Point | None = None


@dataclass(frozen=True)
class Stop:
    """One address: `amount` parcels, served in `service_s` seconds. `vehicle` pins the stop
    to one vehicle (its parcels are already on board)."""

    id: str
    point: Point
    amount: int
    service_s: int
    vehicle: str | None = None


@dataclass(frozen=True)
class Options:
    """`balance`: the slack over an even split that one vehicle may take (0.1: at most 10%
    more stops than stops/vehicles, and a day at most 10% over the mean route); None
    optimises the total alone."""

    balance: float | None = 0.1
    timeout_s: float = 1.5
    exploration: int = 3
    threads: int = 2
    return_to_depot: bool = False


@dataclass(frozen=True)
class Problem:
    depot: Point
    vehicles: tuple[Vehicle, ...]
    stops: tuple[Stop, ...]


@dataclass(frozen=True)
class Matrix:
    """Seconds and metres between locations; index 0 is the depot, then each vehicle's own
    start (when it has one), then the stops in order."""

    durations: list[list[int]]
    distances: list[list[int]]
    source: str


@dataclass(frozen=True)
class PlannedStop:
    stop_id: str
    arrival_s: int  # seconds after the vehicle's start, when it reaches the stop
    travel_s: int  # driving time from the previous stop
    distance_m: int  # from the previous stop


@dataclass(frozen=True)
class Route:
    vehicle_id: str
    stops: tuple[PlannedStop, ...]
    duration_s: int  # start to the last stop served (or back at the depot), service included
    travel_s: int
    distance_m: int


@dataclass(frozen=True)
class Plan:
    routes: tuple[Route, ...]
    unassigned: tuple[str, ...]
    cost: int
    solver: str
    solve_ms: int
    info: dict[str, object] = field(default_factory=dict)

    @property
    def total_s(self) -> int:
        return sum(r.duration_s for r in self.routes)

    def balance(self) -> float:
        """Longest route / mean route over every vehicle, idle ones included (1.0: even)."""
        times = [r.duration_s for r in self.routes]
        if not times or not any(times):
            return 1.0
        return max(times) / (sum(times) / len(times))


class RoutingError(Exception):
    """The problem cannot be solved as asked; `code` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
