"""Where a session's addresses are: geocoding results recorded, and a manager's own pin.

The providers are asked outside any transaction (domain/geocoding.py); these services only
write what they answered, under the session's lock.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import geo
from db.base import utcnow
from db.models import DeliverySession, SessionAddress, User
from domain import addresses, permissions
from domain.actions import Action
from domain.errors import NotFound, ValidationFailed
from domain.uow import UnitOfWork

MANUAL_PROVIDER = "manual"


@dataclass(frozen=True)
class Located:
    """What the chain (or the cache) answered for one address."""

    address_id: uuid.UUID
    key: str
    latitude: float | None
    longitude: float | None
    precision: str | None
    provider: str | None
    # The chain's answer is definitive (no better step was unavailable): it may be cached.
    final: bool
    from_cache: bool
    steps: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)

    @property
    def placed(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def query_of(row: SessionAddress) -> geo.Query:
    return geo.Query(
        street=row.street,
        number=row.number,
        neighbourhood=row.neighbourhood,
        city=row.city,
        state=row.state,
        cep=geo.cep_digits(row.postal_code),
        line=None if row.street else row.line,
    )


def key_of(row: SessionAddress) -> str:
    return addresses.geocode_key(
        addresses.AddressData(
            line=row.line,
            city=row.city,
            postal_code=row.postal_code,
            street=row.street,
            number=row.number,
            state=row.state,
        )
    )


async def record_geocodes(
    uow: UnitOfWork, actor: User, session_id: uuid.UUID, results: Sequence[Located]
) -> tuple[DeliverySession, list[SessionAddress]]:
    """Writes a batch's answers: each address still unplaced gets its match (a pin set
    meanwhile is kept), every attempt is noted on the address, definitive provider answers
    go into the cache. One audit entry for the batch, with counts only."""
    session = await permissions.lock_for_change(uow, actor, session_id)
    permissions.ensure_writable(session)
    rows = {r.id: r for r in await uow.addresses.get_many([x.address_id for x in results])}
    now = utcnow()
    placed: list[SessionAddress] = []
    cache: dict[str, dict[str, object]] = {}
    for result in results:
        row = rows.get(result.address_id)
        if row is None or row.session_id != session.id or row.anonymized_at is not None:
            continue
        if result.final and not result.from_cache:
            cache[result.key] = {
                "key": result.key,
                "latitude": result.latitude,
                "longitude": result.longitude,
                "precision": result.precision if result.placed else None,
                "provider": result.provider if result.placed else None,
            }
        if row.latitude is not None:
            continue
        row.geocoding_cache = {
            "at": now.isoformat(),
            "found": result.placed,
            "final": result.final,
            "fromCache": result.from_cache,
            "steps": [list(s) for s in result.steps],
        }
        if result.placed:
            row.latitude, row.longitude = result.latitude, result.longitude
            row.geo_precision, row.geo_provider = result.precision, result.provider
            placed.append(row)
    await uow.geocodes.remember(list(cache.values()))
    uow.record(
        session,
        Action.ADDRESSES_GEOCODED,
        actor.id,
        {
            "addresses": len(results),
            "placed": len(placed),
            "unplaced": sum(1 for r in results if not r.placed),
            "fromCache": sum(1 for r in results if r.from_cache),
        },
    )
    await uow.flush()
    return session, placed


async def set_address_location(
    uow: UnitOfWork, actor: User, address_id: uuid.UUID, latitude: float, longitude: float
) -> tuple[SessionAddress, DeliverySession]:
    """A manager's pin: precision MANUAL, provider "manual", whatever was there before."""
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        if not math.isfinite(value) or abs(value) > bound:
            raise ValidationFailed(
                f"{name} must be between -{bound} and {bound}",
                field=name,
                code="COORDINATE_OUT_OF_RANGE",
            )
    found = await uow.addresses.get_many([address_id])
    if not found:
        raise NotFound("address not found", id=str(address_id), code="ADDRESS_NOT_FOUND")
    session = await permissions.lock_for_change(uow, actor, found[0].session_id)
    permissions.ensure_writable(session)
    rows = await uow.addresses.get_many([address_id])
    if not rows or rows[0].anonymized_at is not None:
        raise NotFound("address not found", id=str(address_id), code="ADDRESS_NOT_FOUND")
    row = rows[0]
    before = row.geo_precision
    row.latitude, row.longitude = latitude, longitude
    row.geo_precision, row.geo_provider = geo.Precision.MANUAL.value, MANUAL_PROVIDER
    uow.record(
        session,
        Action.ADDRESS_LOCATED,
        actor.id,
        {
            "addressId": str(row.id),
            "before": {"precision": before},
            "after": {"precision": row.geo_precision, "provider": row.geo_provider},
        },
    )
    await uow.flush()
    return row, session
