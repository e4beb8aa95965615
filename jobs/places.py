"""Geocoding a session and optimizing its routes, as jobs.

Geocoding: domain.geocoding asks the providers outside any transaction and writes each
batch's answers with one command; progress is written after each batch. A retried attempt
starts again from the addresses still unplaced (the committed batches and the cache stay).

Optimization: three steps. The inputs are checked again (things changed while the job
waited: a refusal ends it FAILED with its code, nothing written), then one `OptimizeRoutes`
command solves and assigns in one transaction, keyed `job:<id>:optimize`: a retried attempt
after its commit replays the stored answer instead of solving again.
"""

from __future__ import annotations

import uuid
from typing import Any

from db.models import Job
from domain import jobs as job_service
from domain import routes
from domain.commands import OptimizeRoutes, SetJobProgress
from domain.geocoding import geocode_session
from jobs.deps import JobDeps

# The ids a job's result lists inline; route_optimization_data and the addresses hold all.
LISTED = 100
OPTIMIZE_STEPS = 3


async def _progress(deps: JobDeps, job: Job, done: int, total: int, failed: int = 0) -> None:
    await deps.runner.run_once(None, SetJobProgress(job.id, done=done, failed=failed, total=total))


async def geocode(deps: JobDeps, job: Job) -> dict[str, Any]:
    async with deps.runner.uow() as uow:
        caller = await job_service.requester(uow, job)

    async def tell(done: int, total: int) -> None:
        await _progress(deps, job, done, total)

    geocoder = deps.geocoder()
    try:
        report = await geocode_session(
            deps.runner, caller, job.session_id, geocoder, on_progress=tell
        )
    finally:
        await geocoder.aclose()
    return {
        "total": report.total,
        "placed": report.placed,
        "fromCache": report.from_cache,
        "providerCalls": report.provider_calls,
        "unplaced": len(report.unplaced),
        "retryLater": len(report.retry_later),
        "unplacedAddressIds": [str(a) for a in report.unplaced[:LISTED]],
    }


async def optimize(deps: JobDeps, job: Job) -> dict[str, Any]:
    options = routes.options_from_json(job.params.get("options", {}))
    config = deps.runner.deps.routes
    async with deps.runner.uow() as uow:
        caller = await job_service.requester(uow, job)
    await _progress(deps, job, 0, OPTIMIZE_STEPS)
    async with deps.runner.uow() as uow:
        # Checked under the session's lock, which ends with this read's rollback.
        ready = await routes.prepare(uow, caller, job.session_id, options, config)
        stops, parcels = len(ready.stops), sum(s.amount for s in ready.stops)
    await _progress(deps, job, 1, OPTIMIZE_STEPS)
    done = await deps.runner.run_once(
        caller, OptimizeRoutes(job.session_id, options), f"job:{job.id}:optimize"
    )
    await _progress(deps, job, 2, OPTIMIZE_STEPS)
    async with deps.runner.uow() as uow:
        session = await uow.sessions.get(job.session_id)
    data = (session.route_optimization_data if session else None) or {}
    unassigned: list[str] = done.ref.get("unassigned", [])
    unplaced: list[str] = done.ref.get("unplaced", [])
    return {
        "deliverers": len(done.ref.get("deliverers", [])),
        "stops": data.get("inputs", {}).get("stops", stops),
        "parcels": data.get("inputs", {}).get("parcels", parcels),
        "unassigned": len(unassigned),
        "unplaced": len(unplaced),
        "unassignedPackageIds": unassigned[:LISTED],
        "unplacedPackageIds": unplaced[:LISTED],
        "solver": data.get("solver"),
        "totalS": data.get("totalS"),
        "balance": data.get("balance"),
        "solveMs": data.get("solveMs"),
        "sessionId": str(uuid.UUID(done.ref["session"])),
    }
