"""Route optimization per session: pure, imports nothing of ours.

`solve(problem, matrix, options)` (VROOM through pyvroom) or `solve_within(...)` in a worker
thread with a hard limit; matrices from straight lines (`straight`) or an OSRM server
(`osrm`); `nearest_neighbour` is the baseline of bench/routes.py.
"""

from routing.matrix import osrm, straight
from routing.solver import locations, max_tasks, nearest_neighbour, solve, solve_within
from routing.types import (
    Matrix,
    Options,
    Plan,
    PlannedStop,
    Point,
    Problem,
    Route,
    RoutingError,
    Stop,
    Vehicle,
)

__all__ = [
    "Matrix",
    "Options",
    "Plan",
    "PlannedStop",
    "Point",
    "Problem",
    "Route",
    "RoutingError",
    "Stop",
    "Vehicle",
    "locations",
    "max_tasks",
    "nearest_neighbour",
    "osrm",
    "solve",
    "solve_within",
    "straight",
]
