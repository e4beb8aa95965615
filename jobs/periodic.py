"""Housekeeping on procrastinate's schedule (one worker runs each tick, whatever their number)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from db.enums import JobStatus
from domain import commands
from domain import jobs as job_service
from domain.commands import RequeueJob
from domain.jobs import JobQueue
from jobs.deps import JobDeps

log = logging.getLogger("bipa.jobs")


async def housekeeping(deps: JobDeps) -> None:
    """Expired idempotency keys, proof uploads that never committed, recipients past
    retention (each as its own command; one failing does not stop the others)."""
    runner = deps.runner
    try:
        done = await runner.run_once(None, commands.PurgeIdempotencyKeys())
        if done.ref["removed"]:
            log.info("expired idempotency keys purged", extra={"count": done.ref["removed"]})
    except Exception as exc:
        log.warning("purging idempotency keys failed", extra={"error": type(exc).__name__})
    await sweep_proof_objects(deps)
    if deps.retention_days <= 0:
        return
    try:
        while True:
            done = await runner.run_once(None, commands.AnonymizeExpired(deps.retention_days))
            if not done.ref["anonymized"]:
                break
            log.info("recipient data anonymised", extra={"packages": done.ref["anonymized"]})
    except Exception as exc:
        log.warning("anonymising expired data failed", extra={"error": type(exc).__name__})


async def sweep_proof_objects(deps: JobDeps) -> None:
    try:
        done = await deps.runner.run_once(None, commands.SweepProofObjects())
    except Exception as exc:
        log.warning("sweeping proof objects failed", extra={"error": type(exc).__name__})
        return
    if done.ref["removed"]:
        log.info("uncommitted proof objects removed", extra={"count": done.ref["removed"]})


async def backup(deps: JobDeps) -> None:
    if deps.backup is not None:
        await deps.backup()


async def redefer_lost(deps: JobDeps, queue: JobQueue) -> None:
    """Jobs committed QUEUED whose defer never happened (a crash right after the commit), and
    RUNNING ones whose procrastinate job ended without them (aborted by a shutdown)."""
    async with deps.runner.uow() as uow:
        lost = await job_service.lost_defers(uow, deps.redefer_after_s)
    for job in lost:
        if job.status is JobStatus.RUNNING:
            await deps.runner.run_once(None, RequeueJob(job.id, "its attempt was cut short"))
        await queue.defer(job.id)
    if lost:
        log.info("lost job defers made again", extra={"count": len(lost)})


async def recover_stalled(deps: JobDeps, app: Any, task_name: str) -> None:
    """Jobs whose worker stopped sending heartbeats (killed, its machine gone): back to
    QUEUED, and procrastinate's job retried at once. The batches it committed stay
    committed; their idempotency keys make the next attempt skip them."""
    stalled = await app.job_manager.get_stalled_jobs(
        task_name=task_name, seconds_since_heartbeat=deps.stalled_after_s
    )
    for pjob in stalled:
        job_id = uuid.UUID(str(pjob.task_kwargs["job_id"]))
        await deps.runner.run_once(None, RequeueJob(job_id, "the worker running it was lost"))
        await app.job_manager.retry_job(pjob)
        log.warning("job of a lost worker retried", extra={"job_id": str(job_id)})
