"""VROOM (pyvroom) on a per-session problem, and the baseline it is measured against.

Balance: each vehicle may serve at most ceil(stops / vehicles x (1 + balance)) stops (VROOM's
`max_tasks`). It is a hard limit VROOM handles natively, needs nothing known before solving
(a cap on route time would need the routes' times first), and in urban last-mile the stops,
each with its service time, are most of a deliverer's day.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import timedelta
from typing import Any

import vroom

from routing.types import (
    Matrix,
    Options,
    Plan,
    PlannedStop,
    Point,
    Problem,
    Route,
    RoutingError,
)

PROFILE = "car"


def locations(problem: Problem) -> list[Point]:
    """Depot, each vehicle's own start (when it has one), then every stop."""
    points = [problem.depot]
    points.extend(v.start for v in problem.vehicles if v.start is not None)
    points.extend(s.point for s in problem.stops)
    return points


def _check(problem: Problem) -> None:
    if not problem.vehicles:
        raise RoutingError("ROUTING_NO_VEHICLES", "there are no vehicles")
    if not problem.stops:
        raise RoutingError("ROUTING_NO_STOPS", "there are no stops")
    ids = {v.id for v in problem.vehicles}
    for stop in problem.stops:
        if stop.vehicle is not None and stop.vehicle not in ids:
            raise RoutingError("ROUTING_BAD_INPUT", f"stop {stop.id} is pinned to no vehicle")
    wanted = sum(s.amount for s in problem.stops)
    room = sum(v.capacity for v in problem.vehicles)
    if wanted > room:
        raise RoutingError(
            "ROUTING_CAPACITY", f"{wanted} parcels do not fit in a total capacity of {room}"
        )


def max_tasks(problem: Problem, options: Options) -> int | None:
    """The balance knob as VROOM's `max_tasks` (None: no cap)."""
    if options.balance is None:
        return None
    even = len(problem.stops) / len(problem.vehicles)
    return max(1, math.ceil(even * (1 + options.balance)))


def solve(problem: Problem, matrix: Matrix, options: Options) -> Plan:
    """Solves in this thread (CPU-bound: callers run it in a worker thread).

    With `balance`, two passes: the first caps stops per vehicle (`max_tasks`), the second
    also gives every vehicle a working day of the first pass's mean route time x (1 +
    balance) (a time window: service included, unlike VROOM's `max_travel_time`), which
    fills the vehicle a cap alone leaves nearly empty. The second pass is kept unless it
    serves fewer stops; each pass gets part of the timeout.
    """
    _check(problem)
    started = time.perf_counter()
    cap = max_tasks(problem, options)
    if options.balance is None or len(problem.vehicles) == 1:
        plan = _once(problem, matrix, options, cap, None, options.timeout_s)
    else:
        first = _once(problem, matrix, options, cap, None, options.timeout_s * 0.35)
        used = [r.duration_s for r in first.routes]
        horizon = math.ceil(sum(used) / len(used) * (1 + options.balance))
        second = _once(problem, matrix, options, cap, horizon, options.timeout_s * 0.55)
        plan = first
        if len(second.unassigned) <= len(first.unassigned):
            plan = second
    elapsed = round((time.perf_counter() - started) * 1000)
    return Plan(plan.routes, plan.unassigned, plan.cost, plan.solver, elapsed, plan.info)


def _once(
    problem: Problem,
    matrix: Matrix,
    options: Options,
    cap: int | None,
    horizon: int | None,
    timeout_s: float,
) -> Plan:
    problem_input = vroom.Input()
    problem_input.set_durations_matrix(PROFILE, matrix.durations)
    problem_input.set_distances_matrix(PROFILE, matrix.distances)
    vehicle_ids: dict[int, str] = {}
    own_start = 1
    pins: dict[str, int] = {}
    for n, v in enumerate(problem.vehicles, start=1):
        pinned = sum(1 for s in problem.stops if s.vehicle == v.id)
        start = 0
        if v.start is not None:
            start = own_start
            own_start += 1
        pins[v.id] = n
        window = None
        if v.shift_start_s is not None or v.shift_end_s is not None or horizon is not None:
            begin = v.shift_start_s or 0
            close = v.shift_end_s if v.shift_end_s is not None else 10 * 86_400
            if horizon is not None:
                close = min(close, begin + horizon)
            window = vroom.TimeWindow(begin, close)
        vehicle_ids[n] = v.id
        problem_input.add_vehicle(
            vroom.Vehicle(
                n,
                start=start,
                end=0 if options.return_to_depot else None,
                profile=PROFILE,
                capacity=[v.capacity],
                skills={n},
                time_window=window,
                max_tasks=max(cap, pinned) if cap is not None else vroom.vehicle.MAX_UINT,
            )
        )
    first_stop = own_start
    stop_ids: dict[int, str] = {}
    for k, s in enumerate(problem.stops):
        job_id = k + 1
        stop_ids[job_id] = s.id
        problem_input.add_job(
            vroom.Job(
                job_id,
                location=first_stop + k,
                default_service=s.service_s,
                delivery=[s.amount],
                skills={pins[s.vehicle]} if s.vehicle is not None else None,
            )
        )
    try:
        solution = problem_input.solve(
            exploration_level=options.exploration,
            nb_threads=options.threads,
            timeout=timedelta(seconds=timeout_s),
        )
    except Exception as exc:  # VROOM's own input/internal errors
        raise RoutingError("ROUTING_SOLVER_FAILED", f"the solver failed: {exc}") from None
    data: dict[str, Any] = solution.to_dict()
    routes = {
        vehicle_ids[r["vehicle"]]: _route(vehicle_ids[r["vehicle"]], r, stop_ids)
        for r in data["routes"]
    }
    ordered = tuple(routes.get(v.id, Route(v.id, (), 0, 0, 0)) for v in problem.vehicles)
    unassigned = tuple(stop_ids[u["id"]] for u in data.get("unassigned", []))
    return Plan(
        ordered,
        unassigned,
        int(data["summary"]["cost"]),
        f"vroom (pyvroom {_version()}), exploration {options.exploration}",
        0,
        {
            "maxTasks": cap,
            "horizonS": horizon,
            "matrix": matrix.source,
            "timeoutS": options.timeout_s,
        },
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("pyvroom")
    except Exception:
        return "?"


def _route(vehicle_id: str, data: dict[str, Any], stop_ids: dict[int, str]) -> Route:
    stops: list[PlannedStop] = []
    travel = distance = 0
    end = 0
    for step in data["steps"]:
        if step["type"] == "job":
            leg_t = int(step["duration"]) - travel
            leg_d = int(step.get("distance", 0)) - distance
            travel, distance = int(step["duration"]), int(step.get("distance", 0))
            stops.append(PlannedStop(stop_ids[int(step["id"])], int(step["arrival"]), leg_t, leg_d))
            end = int(step["arrival"]) + int(step["service"])
        elif step["type"] == "end":
            travel, distance = int(step["duration"]), int(step.get("distance", 0))
            end = max(end, int(step["arrival"]))
    return Route(vehicle_id, tuple(stops), end, travel, distance)


async def solve_within(
    problem: Problem, matrix: Matrix, options: Options, hard_limit_s: float | None = None
) -> Plan:
    """`solve` in a worker thread, refused with ROUTING_TIMEOUT when it has not answered
    within `hard_limit_s` (default: twice VROOM's own timeout plus a second). VROOM stops its
    search at its timeout; the hard limit catches a problem too large to even start."""
    limit = hard_limit_s if hard_limit_s is not None else options.timeout_s * 2 + 1.0
    try:
        return await asyncio.wait_for(asyncio.to_thread(solve, problem, matrix, options), limit)
    except TimeoutError:
        raise RoutingError(
            "ROUTING_TIMEOUT", f"the solver gave no answer within {limit:g} s"
        ) from None


def nearest_neighbour(problem: Problem, matrix: Matrix, options: Options) -> Plan:
    """The baseline: stops dealt round-robin to the vehicles (as a person splits a pile),
    then each vehicle goes to its nearest unvisited stop."""
    _check(problem)
    started = time.perf_counter()
    first_stop = 1 + sum(1 for v in problem.vehicles if v.start is not None)
    piles: dict[str, list[int]] = {v.id: [] for v in problem.vehicles}
    free = [k for k, s in enumerate(problem.stops) if s.vehicle is None]
    for k, s in enumerate(problem.stops):
        if s.vehicle is not None:
            piles[s.vehicle].append(k)
    order = [v.id for v in problem.vehicles]
    for n, k in enumerate(free):
        piles[order[n % len(order)]].append(k)
    routes: list[Route] = []
    own = 1
    for v in problem.vehicles:
        here = 0
        if v.start is not None:
            here, own = own, own + 1
        left = set(piles[v.id])
        clock = travel = distance = 0
        stops: list[PlannedStop] = []
        while left:
            k = min(left, key=lambda j: (matrix.durations[here][first_stop + j], j))
            left.discard(k)
            nxt = first_stop + k
            leg_t, leg_d = matrix.durations[here][nxt], matrix.distances[here][nxt]
            clock += leg_t
            travel += leg_t
            distance += leg_d
            stops.append(PlannedStop(problem.stops[k].id, clock, leg_t, leg_d))
            clock += problem.stops[k].service_s
            here = nxt
        if options.return_to_depot and stops:
            clock += matrix.durations[here][0]
            travel += matrix.durations[here][0]
            distance += matrix.distances[here][0]
        routes.append(Route(v.id, tuple(stops), clock, travel, distance))
    elapsed = round((time.perf_counter() - started) * 1000)
    return Plan(tuple(routes), (), sum(r.travel_s for r in routes), "nearest-neighbour", elapsed)
