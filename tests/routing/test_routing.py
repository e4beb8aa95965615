"""VROOM on small problems: order, ETAs and distances, balance, capacity, pinned stops,
shift windows, the OSRM matrix from a local server, the baseline, and the hard time limit."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

import routing
from tests.geo.fakes import FakeProviders, dead_url, serve

DEPOT = routing.Point(-23.55, -46.63)


def grid(n: int, spread_km: float = 4.0, seed: int = 1) -> tuple[routing.Stop, ...]:
    import random

    rnd = random.Random(seed)
    deg = spread_km / 111.0
    return tuple(
        routing.Stop(
            f"s{k}",
            routing.Point(
                DEPOT.latitude + rnd.uniform(-deg, deg), DEPOT.longitude + rnd.uniform(-deg, deg)
            ),
            1,
            120,
        )
        for k in range(n)
    )


def fleet(n: int, capacity: int = 100) -> tuple[routing.Vehicle, ...]:
    return tuple(routing.Vehicle(f"v{k}", capacity) for k in range(n))


def solve(problem: routing.Problem, **options: object) -> routing.Plan:
    matrix = routing.straight(routing.locations(problem))
    return routing.solve(problem, matrix, routing.Options(timeout_s=0.5, **options))  # type: ignore[arg-type]


def test_the_straight_line_matrix() -> None:
    a, b = routing.Point(-23.55, -46.63), routing.Point(-23.56, -46.63)
    m = routing.straight([a, b], detour=1.3, speed_kmh=36.0)
    metres = routing.matrix.haversine_m(a, b)
    assert abs(metres - 1112) < 2
    assert m.distances[0][1] == round(metres * 1.3) and m.durations[0][1] == round(
        metres * 1.3 / 10
    )
    assert m.distances[0][0] == 0 and m.durations == [
        [0, m.durations[0][1]],
        [m.durations[0][1], 0],
    ]


def test_every_stop_is_served_once_in_order_with_etas() -> None:
    problem = routing.Problem(DEPOT, fleet(2), grid(20))
    plan = solve(problem)
    served = [s.stop_id for r in plan.routes for s in r.stops]
    assert sorted(served) == sorted(s.id for s in problem.stops) and not plan.unassigned
    for route in plan.routes:
        arrivals = [s.arrival_s for s in route.stops]
        assert arrivals == sorted(arrivals)
        assert route.distance_m == sum(s.distance_m for s in route.stops)
        assert route.travel_s == sum(s.travel_s for s in route.stops)
        if route.stops:
            # ETA of a stop = travel so far + service at the stops before.
            last = route.stops[-1]
            assert last.arrival_s == route.travel_s + 120 * (len(route.stops) - 1)
    assert plan.cost > 0 and plan.solver.startswith("vroom")


def test_balance_caps_stops_per_vehicle_and_the_day() -> None:
    # Two far-apart clusters and four vehicles: unbalanced, two vehicles would do it all.
    west = tuple(
        routing.Stop(f"w{k}", routing.Point(-23.55, -46.70 + k * 0.001), 1, 300) for k in range(20)
    )
    east = tuple(
        routing.Stop(f"e{k}", routing.Point(-23.55, -46.56 + k * 0.001), 1, 300) for k in range(20)
    )
    problem = routing.Problem(DEPOT, fleet(4), west + east)
    free = solve(problem, balance=None)
    even = solve(problem, balance=0.1)
    cap = routing.max_tasks(problem, routing.Options(balance=0.1))
    assert cap == 11
    assert max(len(r.stops) for r in even.routes) <= cap
    assert even.balance() < free.balance()
    assert even.balance() <= 1.25


def test_capacity_is_in_parcels() -> None:
    stops = tuple(routing.Stop(f"s{k}", s.point, 3, 60) for k, s in enumerate(grid(6)))
    problem = routing.Problem(DEPOT, (routing.Vehicle("a", 9), routing.Vehicle("b", 9)), stops)
    plan = solve(problem, balance=None)
    for route in plan.routes:
        assert sum(3 for _ in route.stops) <= 9
    with pytest.raises(routing.RoutingError) as err:
        routing.solve(
            routing.Problem(DEPOT, (routing.Vehicle("a", 5),), stops),
            routing.straight(routing.locations(problem)),
            routing.Options(),
        )
    assert err.value.code == "ROUTING_CAPACITY"


def test_a_pinned_stop_stays_with_its_vehicle() -> None:
    stops = list(grid(10))
    stops[3] = routing.Stop("s3", stops[3].point, 1, 60, vehicle="v1")
    plan = solve(routing.Problem(DEPOT, fleet(3), tuple(stops)))
    holder = next(r.vehicle_id for r in plan.routes for s in r.stops if s.stop_id == "s3")
    assert holder == "v1"


def test_a_vehicle_with_its_own_start_begins_there() -> None:
    far = routing.Point(-23.60, -46.70)
    stops = (routing.Stop("near-far", routing.Point(-23.601, -46.701), 1, 60),)
    vehicles = (routing.Vehicle("home", 10), routing.Vehicle("out", 10, start=far))
    plan = solve(routing.Problem(DEPOT, vehicles, stops), balance=None)
    assert [r.vehicle_id for r in plan.routes if r.stops] == ["out"]


def test_a_shift_window_leaves_what_does_not_fit_unassigned() -> None:
    stops = grid(30, spread_km=10)
    plan = solve(
        routing.Problem(DEPOT, (routing.Vehicle("short", 100, 0, 1800),), stops), balance=None
    )
    assert plan.unassigned and all(r.duration_s <= 1800 for r in plan.routes)


def test_the_nearest_neighbour_baseline_serves_everything_round_robin() -> None:
    problem = routing.Problem(DEPOT, fleet(3), grid(10))
    matrix = routing.straight(routing.locations(problem))
    plan = routing.nearest_neighbour(problem, matrix, routing.Options())
    assert [len(r.stops) for r in plan.routes] == [4, 3, 3]
    first = plan.routes[0].stops[0]
    assert first.travel_s == matrix.durations[0][1 + int(first.stop_id[1:])]
    optimized = routing.solve(problem, matrix, routing.Options(timeout_s=0.5))
    assert optimized.total_s <= plan.total_s


def test_bad_problems_are_refused() -> None:
    stops = grid(2)
    m = routing.straight(routing.locations(routing.Problem(DEPOT, (), stops)))
    with pytest.raises(routing.RoutingError) as err:
        routing.solve(routing.Problem(DEPOT, (), stops), m, routing.Options())
    assert err.value.code == "ROUTING_NO_VEHICLES"
    with pytest.raises(routing.RoutingError) as err:
        routing.solve(routing.Problem(DEPOT, fleet(1), ()), m, routing.Options())
    assert err.value.code == "ROUTING_NO_STOPS"


async def test_a_solver_past_the_hard_limit_is_a_clear_error() -> None:
    problem = routing.Problem(DEPOT, fleet(5), grid(400, spread_km=20))
    matrix = routing.straight(routing.locations(problem))
    with pytest.raises(routing.RoutingError) as err:
        await routing.solve_within(
            problem, matrix, routing.Options(timeout_s=1.0), hard_limit_s=0.01
        )
    assert err.value.code == "ROUTING_TIMEOUT"


@pytest.fixture
def osrm() -> Iterator[FakeProviders]:
    with serve(FakeProviders()) as fake:
        yield fake


async def test_the_matrix_from_an_osrm_server(osrm: FakeProviders) -> None:
    points = [DEPOT, routing.Point(-23.56, -46.64), routing.Point(-23.57, -46.62)]
    m = await routing.osrm(osrm.url, points)
    assert m.source == "osrm" and len(m.durations) == 3
    expected = routing.straight(points, 1.4, 20.0)
    assert m.durations == expected.durations and m.distances == expected.distances
    path, params = osrm.requests[0]
    assert path.startswith("/table/v1/driving/-46.630000,-23.550000;")
    assert params["annotations"] == "duration,distance"


async def test_an_osrm_server_that_is_down_is_a_coded_error() -> None:
    with pytest.raises(routing.RoutingError) as err:
        await routing.osrm(dead_url(), [DEPOT, DEPOT], timeout_s=0.5)
    assert err.value.code == "ROUTING_MATRIX_UNAVAILABLE"


def test_plan_balance_is_longest_over_mean() -> None:
    r = lambda vid, d: routing.Route(vid, (routing.PlannedStop("x", 0, 0, 0),), d, d, 0)  # noqa: E731
    plan = routing.Plan((r("a", 100), r("b", 300)), (), 0, "t", 0)
    assert math.isclose(plan.balance(), 1.5)
