"""Background jobs: their state machine as data, and the services that move them.

A job is our row (`jobs`), written in the transaction of the command that asks for it;
procrastinate only carries its id (jobs/). Every change of a job goes through these
services, called by the runner like any other command, so the webhooks `job.succeeded` and
`job.failed` are written to the outbox with the change they report.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import storage
from db.base import utcnow
from db.enums import JobKind, JobStatus
from db.models import DeliverySession, Job, User
from domain import permissions
from domain.actions import Action
from domain.errors import InvalidTransition, NotFound
from domain.uow import UnitOfWork

J = JobStatus

# A RUNNING job goes back to QUEUED when its attempt failed in a way worth retrying (the
# database restarting, the store unreachable) or when its worker was lost (killed, its
# heartbeat stale): procrastinate runs it again, and the work already committed is not done
# twice (idempotent batches).
JOB_TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    J.QUEUED: frozenset({J.RUNNING, J.CANCELLED, J.FAILED}),
    J.RUNNING: frozenset({J.SUCCEEDED, J.FAILED, J.CANCELLED, J.QUEUED}),
    J.SUCCEEDED: frozenset(),
    J.FAILED: frozenset(),
    J.CANCELLED: frozenset(),
}
FINAL = frozenset(s for s, targets in JOB_TRANSITIONS.items() if not targets)
MAX_ERROR = 1000


@dataclass(frozen=True)
class ImportLimits:
    """A manifest's limits (BIPA_IMPORT_MAX_BYTES, BIPA_IMPORT_MAX_ROWS) and the rows added
    per batch, i.e. per session row lock (BIPA_IMPORT_BATCH)."""

    max_bytes: int = 20_000_000
    max_rows: int = 20_000
    batch: int = 50


class JobQueue(Protocol):
    """Where a committed job is handed to the workers (jobs/: procrastinate). Deferring twice
    is harmless; a defer lost to a crash is made again by the workers' periodic sweep."""

    async def defer(self, job_id: uuid.UUID) -> None: ...


def job_can(current: JobStatus, target: JobStatus) -> bool:
    return target in JOB_TRANSITIONS[current]


def ensure_job_transition(current: JobStatus, target: JobStatus) -> None:
    if not job_can(current, target):
        raise InvalidTransition("job", current.value, target.value, code="JOB_TRANSITION")


# Where an input file was stored: a fresh key per upload, so not part of what the work is
# (the file is, by its `sha256`).
STORAGE_PARAMS = frozenset({"key"})


def work_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in STORAGE_PARAMS}


def work_hash(kind: JobKind, session_id: uuid.UUID, params: Mapping[str, Any]) -> str:
    """The same work: same kind, same session, same parameters (an upload by its hash)."""
    canonical = json.dumps(
        {"kind": kind.value, "session": str(session_id), "params": work_params(params)},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def percent(done: int, failed: int, total: int | None) -> int:
    if not total:
        return 0
    return max(0, min(100, (done + failed) * 100 // total))


def _not_found(job_id: uuid.UUID) -> NotFound:
    return NotFound("job not found", id=str(job_id), code="JOB_NOT_FOUND")


def _summary(job: Job) -> dict[str, Any]:
    """What the audit entry and the webhook say: ids, kind and counters, no personal data."""
    return {
        "jobId": str(job.id),
        "kind": job.kind.value,
        "status": job.status.value,
        "done": job.done,
        "failed": job.failed,
        "total": job.total,
        "attempts": job.attempts,
    }


@dataclass
class Created:
    job: Job
    created: bool  # False: the same work was already queued or running, and is answered


async def create_job(
    uow: UnitOfWork,
    actor: User,
    kind: JobKind,
    session_id: uuid.UUID,
    params: dict[str, Any],
) -> Created:
    """A new QUEUED job, or the active one doing the same work (never a second)."""
    session = await permissions.lock_for_change(uow, actor, session_id)
    digest = work_hash(kind, session_id, params)
    # Under the session's row lock: two requests for the same work cannot both miss.
    active = await uow.jobs.active_for_work(digest)
    if active is not None:
        return Created(active, created=False)
    now = utcnow()
    job = Job(
        id=uuid.uuid4(),
        kind=kind,
        session_id=session.id,
        status=J.QUEUED,
        params=params,
        work_hash=digest,
        progress=0,
        done=0,
        failed=0,
        total=None,
        attempts=0,
        requested_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    uow.jobs.add(job)
    uow.record(session, Action.JOB_CREATED, actor.id, _summary(job))
    await uow.flush()
    return Created(job, created=True)


async def visible_job(uow: UnitOfWork, actor: User, job_id: uuid.UUID) -> Job:
    """A job the actor may follow (the session's managers, admins); others get NotFound."""
    job = await uow.jobs.get(job_id)
    if job is None:
        raise _not_found(job_id)
    session = await uow.sessions.get(job.session_id)
    if session is None or not permissions.can_follow_jobs(actor, session):
        raise _not_found(job_id)
    return job


async def _locked(uow: UnitOfWork, job_id: uuid.UUID) -> Job:
    job = await uow.jobs.lock(job_id)
    if job is None:
        raise _not_found(job_id)
    return job


async def _locked_with_session(uow: UnitOfWork, job_id: uuid.UUID) -> tuple[DeliverySession, Job]:
    """Session row first, then the job's: the order every job change takes (no deadlock)."""
    peek = await uow.jobs.get(job_id)
    if peek is None:
        raise _not_found(job_id)
    session = await uow.lock_session(peek.session_id)
    if session is None:
        raise _not_found(job_id)
    return session, await _locked(uow, job_id)


async def cancel_job(uow: UnitOfWork, actor: User, job_id: uuid.UUID) -> Job:
    await visible_job(uow, actor, job_id)
    session, job = await _locked_with_session(uow, job_id)
    ensure_job_transition(job.status, J.CANCELLED)
    job.status = J.CANCELLED
    job.finished_at = utcnow()
    uow.record(session, Action.JOB_CANCELLED, actor.id, _summary(job))
    await uow.flush()
    return job


async def start_job(uow: UnitOfWork, job_id: uuid.UUID) -> Job:
    """An attempt begins. A job still RUNNING was left by a lost worker: this resumes it.

    A final job is answered as it is: the task then has nothing to do (a late duplicate).
    """
    job = await _locked(uow, job_id)
    if job.status in FINAL:
        return job
    if job.status is J.QUEUED:
        ensure_job_transition(job.status, J.RUNNING)
        job.status = J.RUNNING
    now = utcnow()
    job.started_at = job.started_at or now
    job.attempts += 1
    await uow.flush()
    return job


def count(job: Job, *, done: int = 0, failed: int = 0, total: int | None = None) -> None:
    """Adds to the counters of a job whose row the caller holds locked."""
    if total is not None:
        job.total = total
    job.done += done
    job.failed += failed
    job.progress = percent(job.done, job.failed, job.total)


async def set_progress(
    uow: UnitOfWork, job_id: uuid.UUID, *, done: int, failed: int, total: int | None
) -> Job:
    """Sets the counters of a RUNNING job (absolute values: a retried call is harmless).

    They never go back: an attempt after a lost one replays the batches that one committed
    from their first, and a follower would see 40% drop to 1% and climb again.
    """
    job = await _locked(uow, job_id)
    ensure_running(job)
    job.total = total
    job.done, job.failed = max(job.done, done), max(job.failed, failed)
    job.progress = percent(job.done, job.failed, total)
    await uow.flush()
    return job


def ensure_running(job: Job) -> None:
    if job.status is not J.RUNNING:
        raise InvalidTransition("job", job.status.value, "work on", code="JOB_NOT_RUNNING")


async def finish_job(
    uow: UnitOfWork,
    job_id: uuid.UUID,
    outcome: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> Job:
    """SUCCEEDED or FAILED, with the webhook of that name. A job cancelled meanwhile stays
    CANCELLED (the cancel won; what the attempt made is dropped)."""
    if outcome not in (J.SUCCEEDED, J.FAILED):
        raise ValueError(f"a job finishes SUCCEEDED or FAILED, not {outcome}")  # a bug
    session, job = await _locked_with_session(uow, job_id)
    if job.status is J.CANCELLED:
        return job
    ensure_job_transition(job.status, outcome)
    job.status = outcome
    job.finished_at = utcnow()
    if result is not None:
        job.result = result
    if error is not None:
        job.last_error = error[:MAX_ERROR]
    if outcome is J.SUCCEEDED:
        job.progress = 100
    action = Action.JOB_SUCCEEDED if outcome is J.SUCCEEDED else Action.JOB_FAILED
    uow.record(session, action, job.requested_by, _summary(job))
    await uow.flush()
    return job


async def requeue_job(uow: UnitOfWork, job_id: uuid.UUID, error: str) -> Job:
    """RUNNING -> QUEUED: the attempt failed but may succeed again (or its worker was lost)."""
    job = await _locked(uow, job_id)
    if job.status is J.RUNNING:
        ensure_job_transition(job.status, J.QUEUED)
        job.status = J.QUEUED
        job.last_error = error[:MAX_ERROR]
        await uow.flush()
    return job


# --- files of jobs (the proof's object store: keys here, links minted on each read) ----------


def _day(now: datetime | None = None) -> str:
    return (now or utcnow()).strftime("%Y%m%d")


def upload_key(session_id: uuid.UUID, extension: str) -> str:
    """A fresh key for an uploaded manifest (never a user's file name)."""
    return f"imports/{_day()}/{session_id}/{secrets.token_hex(16)}.{extension}"


def result_key(job: Job, name: str, extension: str) -> str:
    """A fresh key per attempt: keys are written once, and a lost attempt's file is left."""
    return f"jobs/{_day()}/{job.session_id}/{job.id}-{name}-{secrets.token_hex(4)}.{extension}"


async def link(store: storage.ObjectStore, key: str, ttl_s: int) -> str:
    return await store.presign_get(key, ttl_s)


# --- reads -----------------------------------------------------------------------------------


async def requester(uow: UnitOfWork, job: Job) -> User:
    """Who asked: the job's commands run as them, with their permissions of now."""
    user = await uow.users.get(job.requested_by)
    if user is None:
        raise _not_found(job.id)
    return user


async def lost_defers(uow: UnitOfWork, older_than_s: float, limit: int = 100) -> list[Job]:
    """QUEUED jobs that no procrastinate job waits for (a crash between commit and defer)."""
    return await uow.jobs.lost_defers(utcnow() - timedelta(seconds=older_than_s), limit)


async def page(
    uow: UnitOfWork,
    actor: User,
    session_id: uuid.UUID | None,
    statuses: list[JobStatus] | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[Job]:
    """Jobs the actor may follow, newest first: one session's, or every session they manage."""
    if session_id is not None:
        session = await uow.sessions.get(session_id)
        if session is None or not permissions.can_follow_jobs(actor, session):
            return []
        return await uow.jobs.page(
            session_id=session_id, owner_id=None, statuses=statuses, after=after, limit=limit
        )
    if not permissions.is_manager(actor):
        return []
    owner = None if permissions.manages_every_session(actor) else actor.id
    return await uow.jobs.page(
        session_id=None, owner_id=owner, statuses=statuses, after=after, limit=limit
    )
