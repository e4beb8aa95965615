"""One attempt of a job: start it, do its kind's work, finish it (or requeue it and retry).

Refusals (`DomainError`: the file is not a manifest, the requester may no longer change the
session, the job was cancelled meanwhile) end the job FAILED at once: trying again would get
the same answer. Anything else is taken as transient: the job goes back to QUEUED with the
error and procrastinate runs it again with backoff, until the last attempt marks it FAILED.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from db.enums import JobKind, JobStatus
from db.models import Job
from domain.commands import FinishJob, RequeueJob, StartJob
from domain.errors import DomainError
from jobs import exports, imports, places
from jobs.deps import JobDeps

log = logging.getLogger("bipa.jobs")

Work = Callable[[JobDeps, Job], Awaitable[dict[str, Any]]]
KINDS: dict[JobKind, Work] = {
    JobKind.IMPORT_MANIFEST: imports.run,
    JobKind.EXPORT_REPORT: exports.run,
    JobKind.GEOCODE_SESSION: places.geocode,
    JobKind.OPTIMIZE_ROUTES: places.optimize,
}


def _error(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:500]


async def run(deps: JobDeps, job_id: uuid.UUID, *, last: bool) -> None:
    started = await deps.runner.run_once(None, StartJob(job_id))
    job: Job = started.rows["job"]
    if job.status is not JobStatus.RUNNING:
        return  # finished or cancelled already: a late duplicate has nothing to do
    log.info("job started", extra={"job_id": str(job_id), "kind": job.kind.value})
    try:
        result = await KINDS[job.kind](deps, job)
    except DomainError as exc:
        # The code and its params as data too: clients word the refusal without parsing.
        refused = {"error": {"code": exc.code, "params": dict(exc.params)}}
        await _finish(deps, job_id, JobStatus.FAILED, result=refused, error=_error(exc))
        return
    except Exception as exc:
        if last:
            log.warning("job failed", extra={"job_id": str(job_id), "error": _error(exc)})
            await _finish(deps, job_id, JobStatus.FAILED, error=_error(exc))
            return
        log.warning("job attempt failed; retrying", extra={"job_id": str(job_id)})
        await deps.runner.run_once(None, RequeueJob(job_id, _error(exc)))
        raise  # procrastinate's retry strategy runs it again
    await _finish(deps, job_id, JobStatus.SUCCEEDED, result=result)


async def _finish(
    deps: JobDeps,
    job_id: uuid.UUID,
    outcome: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    done = await deps.runner.run_once(None, FinishJob(job_id, outcome, result, error))
    job: Job = done.rows["job"]
    log.info("job finished", extra={"job_id": str(job_id), "status": job.status.value})
