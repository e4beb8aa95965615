"""What a session report holds: plain data, built by the domain (domain/reports.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class PackageLine:
    code: str
    carrier: str | None
    status: str  # PENDING, PICKED_UP, DELIVERED, FAILED
    deliverer: str | None
    recipient: str | None
    address: str | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    failure_reason: str | None
    has_proof: bool


@dataclass(frozen=True)
class PayLine:
    deliverer: str
    base_salary: Decimal
    commission_per_delivery: Decimal
    deliveries: int
    commission: Decimal
    total: Decimal


@dataclass(frozen=True)
class RouteStopLine:
    sequence: int
    address: str | None
    codes: tuple[str, ...]  # the parcels handed over here
    eta: datetime | None
    distance_m: int  # from the previous stop
    done: bool  # every parcel of the stop is delivered or failed


@dataclass(frozen=True)
class RouteLine:
    """One deliverer's optimized route, its stops in driving order."""

    deliverer: str
    stops: tuple[RouteStopLine, ...]
    distance_m: int
    duration_s: int
    optimized_at: datetime | None


@dataclass(frozen=True)
class SessionReport:
    """`payroll` and `payroll_total` are None unless the session is COMPLETED (or ARCHIVED)
    and has its financial snapshot."""

    session_id: str
    session_name: str
    status: str  # OPEN, ACTIVE, PAUSED, COMPLETED, ARCHIVED
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    generated_at: datetime
    packages: tuple[PackageLine, ...]
    payroll: tuple[PayLine, ...] | None
    payroll_total: Decimal | None
    # Empty until routes are optimized (optimizeRoutes).
    routes: tuple[RouteLine, ...] = ()
