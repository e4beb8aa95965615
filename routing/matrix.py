"""Travel times and distances: straight lines times a detour factor at an average speed, or
an OSRM-compatible server's /table."""

from __future__ import annotations

import math
from collections.abc import Sequence

import httpx

from routing.types import Matrix, Point, RoutingError

EARTH_RADIUS_M = 6_371_008.8
DETOUR = 1.3
SPEED_KMH = 25.0


def haversine_m(a: Point, b: Point) -> float:
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dp, dl = p2 - p1, math.radians(b.longitude - a.longitude)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def straight(
    points: Sequence[Point], detour: float = DETOUR, speed_kmh: float = SPEED_KMH
) -> Matrix:
    """Road distance ~ straight line x `detour`; time = that distance at `speed_kmh`."""
    speed = speed_kmh / 3.6
    n = len(points)
    distances = [[0] * n for _ in range(n)]
    durations = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            metres = haversine_m(points[i], points[j]) * detour
            distances[i][j] = distances[j][i] = round(metres)
            durations[i][j] = durations[j][i] = round(metres / speed)
    return Matrix(durations, distances, f"haversine x{detour:g} at {speed_kmh:g} km/h")


async def osrm(
    base_url: str, points: Sequence[Point], *, profile: str = "driving", timeout_s: float = 10.0
) -> Matrix:
    """GET /table/v1/{profile}/{lon,lat;...}?annotations=duration,distance (OSRM's format).
    A server that cannot answer raises RoutingError("ROUTING_MATRIX_UNAVAILABLE")."""
    coords = ";".join(f"{p.longitude:.6f},{p.latitude:.6f}" for p in points)
    url = f"{base_url.rstrip('/')}/table/v1/{profile}/{coords}"
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(url, params={"annotations": "duration,distance"})
        data = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("code") != "Ok":
        raise RoutingError("ROUTING_MATRIX_UNAVAILABLE", "the OSRM server did not answer a table")
    n = len(points)
    durations = _square(data.get("durations"), n)
    distances = _square(data.get("distances"), n)
    if durations is None or distances is None:
        raise RoutingError("ROUTING_MATRIX_UNAVAILABLE", "the OSRM table is incomplete")
    return Matrix(durations, distances, "osrm")


# Unreachable pairs (null in OSRM's table) cost a day: the solver avoids them.
UNREACHABLE = 86_400


def _square(rows: object, n: int) -> list[list[int]] | None:
    if not isinstance(rows, list) or len(rows) != n:
        return None
    out: list[list[int]] = []
    for row in rows:
        if not isinstance(row, list) or len(row) != n:
            return None
        out.append([UNREACHABLE if v is None else round(float(v)) for v in row])
    return out
