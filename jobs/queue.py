"""The procrastinate App: tasks, their schedule, deferring, and the worker."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import procrastinate
import procrastinate.worker
from procrastinate import JobContext, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued

from jobs import periodic, work
from jobs.deps import JobDeps

log = logging.getLogger("bipa.jobs")
RUN_JOB = "bipa.run_job"
# A transient failure (the database restarting, the store unreachable) is retried after 2, 4,
# 8, 16 s; the fifth failure marks the job FAILED (jobs/work.py).
MAX_ATTEMPTS = 5
RETRY = RetryStrategy(max_attempts=MAX_ATTEMPTS - 1, exponential_wait=2)


def every(seconds: float) -> str:
    """A cron line (procrastinate's sixth column is seconds) for "every N seconds"."""
    s = max(1, min(59, round(seconds)))
    return f"* * * * * */{s}"


@dataclass(frozen=True)
class Schedule:
    housekeeping: str = "*/10 * * * *"  # key purge, proof sweep, retention: every 10 minutes
    backup: str = "* * * * *"  # due backups are looked for every minute
    redefer: str = every(15)
    recover: str = every(10)

    @classmethod
    def for_stalled_after(cls, stalled_after_s: float) -> Schedule:
        return cls(recover=every(max(1.0, stalled_after_s / 3)))


def conninfo(database_url: str) -> str:
    """A libpq URL for psycopg from ours (SQLAlchemy's driver suffix removed)."""
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


def _deps(context: JobContext) -> JobDeps:
    deps = context.additional_context.get("bipa")
    if not isinstance(deps, JobDeps):
        raise RuntimeError("the worker was started without its dependencies")  # a bug
    return deps


def make_app(database_url: str, schedule: Schedule | None = None, pool_max: int = 4) -> Any:
    """procrastinate's App on its own small psycopg pool (it cannot share asyncpg's)."""
    plan = schedule or Schedule()
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url),
        min_size=1,
        max_size=pool_max,
        kwargs={"application_name": "bipa-jobs"},
    )
    app = procrastinate.App(connector=connector)

    @app.task(name=RUN_JOB, pass_context=True, retry=RETRY)
    async def run_job(context: JobContext, job_id: str) -> None:
        attempt = context.job.attempts
        await work.run(_deps(context), uuid.UUID(job_id), last=attempt + 1 >= MAX_ATTEMPTS)

    @app.periodic(cron=plan.housekeeping)
    @app.task(name="bipa.housekeeping", pass_context=True)
    async def housekeeping(context: JobContext, timestamp: int) -> None:
        await periodic.housekeeping(_deps(context))

    @app.periodic(cron=plan.backup)
    @app.task(name="bipa.backup", pass_context=True)
    async def backup(context: JobContext, timestamp: int) -> None:
        await periodic.backup(_deps(context))

    @app.periodic(cron=plan.redefer)
    @app.task(name="bipa.redefer_lost", pass_context=True)
    async def redefer_lost(context: JobContext, timestamp: int) -> None:
        await periodic.redefer_lost(_deps(context), Queue(context.app))

    @app.periodic(cron=plan.recover)
    @app.task(name="bipa.recover_stalled", pass_context=True)
    async def recover_stalled(context: JobContext, timestamp: int) -> None:
        await periodic.recover_stalled(_deps(context), context.app, RUN_JOB)

    return app


class Queue:
    """domain.jobs.JobQueue on procrastinate: one procrastinate job per job of ours at a time
    (its lock and queueing lock are the job's id)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def defer(self, job_id: uuid.UUID, queue: str | None = None) -> None:
        """`queue`: a worker's own (the CLI's, which runs only the job it asked for); every
        `bipa worker` listens on all queues."""
        lock = f"job:{job_id}"
        options: dict[str, Any] = {"lock": lock, "queueing_lock": lock}
        if queue is not None:
            options["queue"] = queue
        task = self.app.tasks[RUN_JOB].configure(**options)
        with contextlib.suppress(AlreadyEnqueued):  # already waiting: the same work, once
            await task.defer_async(job_id=str(job_id))


class JobWorker:
    """procrastinate's worker with our tasks' dependencies; `stop()` lets running jobs end
    (a job cut short is ABORTED by procrastinate: the sweep puts ours back in the queue)."""

    def __init__(
        self,
        app: Any,
        deps: JobDeps,
        *,
        concurrency: int,
        heartbeat_s: float,
        queues: list[str] | None = None,
    ) -> None:
        self.worker = procrastinate.worker.Worker(
            app,
            name="bipa",
            queues=queues,
            concurrency=concurrency,
            additional_context={"bipa": deps},
            update_heartbeat_interval=heartbeat_s,
            stalled_worker_timeout=deps.stalled_after_s,
            # Periodic ticks would pile up: finished successes are deleted, failures kept.
            delete_jobs="successful",
            install_signal_handlers=False,
            shutdown_graceful_timeout=30.0,
        )

    async def run(self) -> None:
        log.info("job worker started")
        await self.worker.run()  # type: ignore[no-untyped-call]

    def stop(self) -> None:
        self.worker.stop()  # type: ignore[no-untyped-call]
