"""Route optimization: 300 stops, 5 deliverers, against two baselines in the same run.

* VROOM (routing.solve) with the default options (2 s timeout, balance 0.2);
* baseline 1: nearest-neighbour routes after a round-robin split (how a person splits a pile);
* baseline 2: the same solver given 30 s (and its highest exploration level, 5).

Stops are a deterministic random city of 12 x 12 km around a depot (São Paulo's centre),
1-3 parcels each, 3 min of service + 30 s per parcel; matrix from straight lines x 1.3 at
25 km/h. Prints solve time, total route time, and balance (longest / mean route), with the
issue #16 targets: solve <= 2 s, >= 20% shorter than the baseline, within 5% of 30 s.

    .venv/bin/python bench/routes.py [--stops 300] [--vehicles 5] [--seed 7] [--long 30]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import routing

DEPOT = routing.Point(-23.5505, -46.6333)
# A degree of longitude is shorter than one of latitude by cos(latitude).
SHRINK = math.cos(math.radians(23.55))


def problem(stops: int, vehicles: int, seed: int) -> routing.Problem:
    rnd = random.Random(seed)
    km = 1 / 111.0
    points = []
    for k in range(stops):
        # Clustered like a real day: a few neighbourhoods and a scatter.
        if rnd.random() < 0.7:
            cx, cy = rnd.choice([(-4, -3), (3, 4), (5, -4), (-3, 5)])
            x, y = cx + rnd.gauss(0, 1.2), cy + rnd.gauss(0, 1.2)
        else:
            x, y = rnd.uniform(-6, 6), rnd.uniform(-6, 6)
        amount = rnd.choice([1, 1, 1, 2, 3])
        points.append(
            routing.Stop(
                f"s{k}",
                routing.Point(DEPOT.latitude + y * km, DEPOT.longitude + x * km / SHRINK),
                amount,
                180 + 30 * amount,
            )
        )
    total = sum(p.amount for p in points)
    cap = math.ceil(total / vehicles * 1.5)
    fleet = tuple(routing.Vehicle(f"v{n}", cap) for n in range(vehicles))
    return routing.Problem(DEPOT, fleet, tuple(points))


def describe(name: str, plan: routing.Plan, seconds: float) -> str:
    hours = plan.total_s / 3600
    stops = [len(r.stops) for r in plan.routes]
    return (
        f"{name:<28} solve {seconds:6.2f} s   total {hours:6.2f} h   balance "
        f"{plan.balance():.2f}   stops/vehicle {stops}   unassigned {len(plan.unassigned)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=300)
    parser.add_argument("--vehicles", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--long", type=float, default=30.0, help="seconds for baseline 2")
    args = parser.parse_args()
    prob = problem(args.stops, args.vehicles, args.seed)
    matrix = routing.straight(routing.locations(prob))
    default = routing.Options()

    t = time.perf_counter()
    plan = routing.solve(prob, matrix, default)
    solve_s = time.perf_counter() - t
    t = time.perf_counter()
    nn = routing.nearest_neighbour(prob, matrix, default)
    nn_s = time.perf_counter() - t
    t = time.perf_counter()
    long_plan = routing.solve(prob, matrix, routing.Options(timeout_s=args.long, exploration=5))
    long_s = time.perf_counter() - t

    print(
        f"{args.stops} stops, {args.vehicles} vehicles, {matrix.source}, max stops/vehicle "
        f"{routing.max_tasks(prob, default)}"
    )
    print(describe("vroom (default options)", plan, solve_s))
    print(describe("nearest-neighbour (RR split)", nn, nn_s))
    print(describe(f"vroom given {args.long:g} s", long_plan, long_s))
    shorter = 1 - plan.total_s / nn.total_s
    gap = plan.total_s / long_plan.total_s - 1
    print()
    verdict = {True: "PASS", False: "FAIL"}
    print(f"solve time           {solve_s:.2f} s (target <= 2 s)  {verdict[solve_s <= 2.0]}")
    print(f"vs nearest-neighbour {shorter:.1%} shorter (target >= 20%)  {verdict[shorter >= 0.20]}")
    print(f"vs {args.long:g} s of the solver {gap:+.1%} (target <= +5%)  {verdict[gap <= 0.05]}")
    print(f"balance              {plan.balance():.2f} longest/mean (baseline {nn.balance():.2f})")


if __name__ == "__main__":
    main()
