"""Geocoding a session's addresses: the cache first, the provider chain for the rest, in
batches, with progress. What the job of `geocodeSession` calls.

No provider is asked inside a transaction: a batch is read (one short read), its misses are
looked up with the providers (the public Nominatim answers once a second), and the answers
are written by one command through the runner (`RecordGeocodes`: audited, live, webhooks).
An address is asked once across sessions: the cache is keyed by its normalised form, and
equal keys within a batch are asked once.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import geo
from db.base import utcnow
from db.models import GeocodeCache, SessionAddress, User
from domain import permissions
from domain.commands import RecordGeocodes
from domain.locations import Located, key_of, query_of
from domain.operations import Runner

Progress = Callable[[int, int], Awaitable[None] | None]
BATCH = 50
# "Nothing found" is cached this long: map data in Brazil grows.
NEGATIVE_TTL_S = 30 * 86_400.0


@dataclass
class GeocodeReport:
    total: int = 0
    placed: int = 0
    from_cache: int = 0
    provider_calls: int = 0
    # Addresses no step could place (a manager can pin them: setAddressLocation).
    unplaced: list[uuid.UUID] = field(default_factory=list)
    # Of those, the ones a provider could not answer for now: worth another run later.
    retry_later: list[uuid.UUID] = field(default_factory=list)


async def geocode_session(
    runner: Runner,
    caller: User,
    session_id: uuid.UUID,
    geocoder: geo.Geocoder,
    on_progress: Progress | None = None,
    batch_size: int = BATCH,
) -> GeocodeReport:
    """Places every address of the session that has no coordinates yet. Refusals (not the
    session's manager, a read-only session) are DomainErrors from the first batch's command;
    a provider that is slow, down or rate-limiting never raises: its addresses are reported
    in `retry_later`."""
    report = GeocodeReport()
    async with runner.uow() as uow:
        # The refusals of the command, before any provider is asked (the lock ends with
        # this read's rollback).
        session = await permissions.lock_for_change(uow, caller, session_id)
        permissions.ensure_writable(session)
        report.total = await uow.geocodes.count_unplaced(session_id)
    done = 0
    after: uuid.UUID | None = None
    await _tell(on_progress, 0, report.total)
    while True:
        async with runner.uow() as uow:
            rows = await uow.geocodes.unplaced(session_id, after, batch_size)
            keys = {row.id: key_of(row) for row in rows}
            cached = await uow.geocodes.cached(sorted(set(keys.values())))
        if not rows:
            break
        after = rows[-1].id
        results = await _locate(rows, keys, cached, geocoder, report)
        await runner.run_once(caller, RecordGeocodes(session_id, tuple(results)))
        for result in results:
            if result.placed:
                report.placed += 1
            else:
                report.unplaced.append(result.address_id)
                if not result.final:
                    report.retry_later.append(result.address_id)
            report.from_cache += result.from_cache
        done += len(rows)
        await _tell(on_progress, min(done, max(report.total, done)), max(report.total, done))
    return report


async def _locate(
    rows: list[SessionAddress],
    keys: dict[uuid.UUID, str],
    cached: dict[str, GeocodeCache],
    geocoder: geo.Geocoder,
    report: GeocodeReport,
) -> list[Located]:
    now = utcnow()
    asked: dict[str, geo.Outcome] = {}
    results: list[Located] = []
    for row in rows:
        key = keys[row.id]
        hit = cached.get(key)
        if hit is not None and _fresh(hit, now):
            results.append(
                Located(
                    row.id,
                    key,
                    hit.latitude,
                    hit.longitude,
                    hit.precision,
                    hit.provider,
                    final=True,
                    from_cache=True,
                )
            )
            continue
        outcome = asked.get(key)
        if outcome is None:
            if not geocoder.enabled:
                outcome = geo.Outcome(None, (), final=False)
            else:
                outcome = await geocoder.locate(query_of(row))
                report.provider_calls += 1
            asked[key] = outcome
        match = outcome.match
        results.append(
            Located(
                row.id,
                key,
                match.latitude if match else None,
                match.longitude if match else None,
                match.precision.value if match else None,
                match.provider if match else None,
                final=outcome.final,
                from_cache=False,
                steps=tuple((a.step, a.provider, a.outcome) for a in outcome.attempts),
            )
        )
    return results


def _fresh(row: GeocodeCache, now: datetime) -> bool:
    """A cached match is good for ever; "nothing found" for NEGATIVE_TTL_S."""
    if row.latitude is not None:
        return True
    return (now - row.updated_at).total_seconds() < NEGATIVE_TTL_S


async def _tell(on_progress: Progress | None, done: int, total: int) -> None:
    if on_progress is None:
        return
    outcome = on_progress(done, total)
    if outcome is not None:
        await outcome
