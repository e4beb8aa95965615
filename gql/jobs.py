"""Background jobs in GraphQL: the Job type, its queries, the import/export mutations that
start one, cancelJob, and the jobProgress subscription."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON
from strawberry.types import Info

from db.models import Job as JobRow
from domain import commands, manifests
from domain import jobs as job_service
from domain.errors import DomainError, NotFound, ValidationFailed
from gql import pagination
from gql.context import Context
from gql.enums import JobKind, JobStatus
from gql.errors import ERRORS, result, to_error
from gql.inputs import IDEMPOTENCY_KEY
from gql.runner import parse_uuid
from gql.types import PageInfo, page_info

# jobProgress sends at most this many states per second; the row is read again after each
# signal (or every POLL_S without one), so a lost signal costs one read, never a state.
MAX_PER_SECOND = 4
POLL_S = 2.0


@strawberry.enum(description="The file format of a session report.")
class ReportFormat(enum.Enum):
    CSV = strawberry.enum_value("CSV", description="Comma-separated text, UTF-8.")
    XLSX = strawberry.enum_value("XLSX", description="An Excel workbook.")
    PDF = strawberry.enum_value("PDF", description="A printable document.")


@strawberry.type(
    description="Background work under a session: a manifest import, a report, geocoding "
    "its addresses, optimizing its routes."
)
class Job:
    row: strawberry.Private[JobRow]

    @strawberry.field(description="Stable id (a UUID).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="What the job does.")
    def kind(self) -> JobKind:
        return self.row.kind

    @strawberry.field(description="The session it works on.")
    def session_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.session_id))

    @strawberry.field(description="QUEUED -> RUNNING -> SUCCEEDED | FAILED; CANCELLED on request.")
    def status(self) -> JobStatus:
        return self.row.status

    @strawberry.field(description="0 to 100.")
    def progress(self) -> int:
        return self.row.progress

    @strawberry.field(
        description="Items done (an import: rows added; geocoding: addresses looked at; "
        "optimizing: steps of 3)."
    )
    def done(self) -> int:
        return self.row.done

    @strawberry.field(description="Items that could not be done (an import: rows refused).")
    def failed(self) -> int:
        return self.row.failed

    @strawberry.field(description="Items in all, once known.")
    def total(self) -> int | None:
        return self.row.total

    @strawberry.field(description="Attempts started (a transient failure is retried).")
    def attempts(self) -> int:
        return self.row.attempts

    @strawberry.field(description="The error of the last failed attempt.")
    def last_error(self) -> str | None:
        return self.row.last_error

    @strawberry.field(description="What the job produced (counters, file names), once done.")
    def result(self) -> JSON | None:
        return JSON(self.row.result) if self.row.result is not None else None

    @strawberry.field(description="Who asked for it.")
    def requested_by(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.requested_by))

    @strawberry.field(description="When it was asked for (UTC).")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When a worker first took it (UTC); null while QUEUED.")
    def started_at(self) -> datetime | None:
        return self.row.started_at

    @strawberry.field(
        description="When it became SUCCEEDED, FAILED or CANCELLED (UTC); null before."
    )
    def finished_at(self) -> datetime | None:
        return self.row.finished_at

    @strawberry.field(
        description="A report's file: a link minted for this answer (it expires; ask again)."
    )
    async def download_url(self, info: Info[Context, None]) -> str | None:
        return await _link(info, (self.row.result or {}).get("key"))

    @strawberry.field(
        description="An import's per-row problems as CSV (row, column, reason): a fresh link."
    )
    async def problems_url(self, info: Info[Context, None]) -> str | None:
        return await _link(info, (self.row.result or {}).get("reportKey"))


async def _link(info: Info[Context, None], key: Any) -> str | None:
    config = info.context.services.proof
    if not isinstance(key, str) or config is None:
        return None
    return await job_service.link(config.store, key, config.link_ttl_s)


@strawberry.type(description="A job in a page of jobs.")
class JobEdge:
    cursor: str = strawberry.field(description="Opaque position of this edge, for after.")
    node: Job = strawberry.field(description="The job.")


@strawberry.type(description="A page of jobs, newest first.")
class JobConnection:
    edges: list[JobEdge] = strawberry.field(description="The jobs of this page.")
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")


@strawberry.type(description="The job that does the work asked for.")
class JobSuccess:
    job: Job = strawberry.field(description="The job, as committed.")
    created: bool = strawberry.field(
        description="False when the same work was already queued or running: that job."
    )


JobResult = Annotated[JobSuccess | ERRORS, result("JobResult")]


def _jobs_of(info: Info[Context, None]) -> job_service.JobQueue:
    queue = info.context.services.jobs
    if queue is None:
        raise ValidationFailed("background jobs are not available here", code="JOBS_DISABLED")
    return queue


async def start_job(
    info: Info[Context, None], command: commands.CreateJob, key: str | None
) -> tuple[JobRow, bool]:
    """Runs CreateJob and defers it after the commit (a lost defer is swept by the workers)."""
    caller = await info.context.caller()
    queue = _jobs_of(info)
    done = await info.context.services.runner.run_once(caller, command, key)
    job_id = parse_uuid(done.ref["job"], "job")
    created = bool(done.ref.get("created")) and not done.replayed
    row = done.rows.get("job")
    if row is None:
        async with info.context.read() as uow:
            row = await job_service.visible_job(uow, caller, job_id)
    if created or done.replayed:
        await queue.defer(job_id)
    return row, created


async def _read_upload(upload: Any, limit: int) -> bytes:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise manifests.too_large(limit)
    return bytes(data)


async def import_manifest(
    info: Info[Context, None],
    session_id: strawberry.ID,
    file: Upload,
    dry_run: bool,
    all_or_nothing: bool,
    idempotency_key: str | None,
) -> Any:
    limits = info.context.services.imports
    store = info.context.services.proof
    stored: str | None = None
    try:
        sid = parse_uuid(session_id, "session")
        if store is None:
            raise ValidationFailed("file storage is not configured", code="JOBS_DISABLED")
        data = await _read_upload(file, limits.max_bytes)
        params = await manifests.stage_upload(
            store.store,
            sid,
            data,
            getattr(file, "filename", None),
            limits,
            dry_run=dry_run,
            all_or_nothing=all_or_nothing,
        )
        stored = params["key"]
        command = commands.CreateJob(sid, JobKind.IMPORT_MANIFEST, params)
        row, created = await start_job(info, command, idempotency_key)
        if row.params.get("key") == stored:
            stored = None  # the job reads it
        return JobSuccess(job=Job(row=row), created=created)
    except DomainError as exc:
        return to_error(exc)
    finally:
        if store is not None:
            await manifests.drop_upload(store.store, stored)


@strawberry.type
class JobQueries:
    @strawberry.field(description="A job of a session the caller manages (else null).")
    async def job(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> Job | None:
        caller = await info.context.caller()
        try:
            job_id = uuid.UUID(str(id))
        except ValueError:
            return None
        async with info.context.read() as uow:
            try:
                return Job(row=await job_service.visible_job(uow, caller, job_id))
            except NotFound:
                return None

    @strawberry.field(description="Jobs newest first: one session's, or every managed session's.")
    async def jobs(
        self,
        info: Info[Context, None],
        session_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this session's jobs (one the caller manages)."),
        ] = None,
        status: Annotated[
            list[JobStatus] | None,
            strawberry.argument(description="Only jobs in one of these statuses."),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size (0-1000).")] = 20,
        after: Annotated[
            str | None, strawberry.argument(description="Jobs after this cursor.")
        ] = None,
    ) -> JobConnection:
        caller = await info.context.caller()
        size, cursor = pagination.time_page(first, after, "job", 20)
        sid = pagination.parse_id(session_id)
        if session_id is not None and sid is None:
            return JobConnection(edges=[], page_info=page_info([], more=False, previous=False))
        async with info.context.read() as uow:
            rows = await job_service.page(uow, caller, sid, status, cursor, size + 1)
        edges = [
            JobEdge(cursor=pagination.encode("job", r.created_at, r.id), node=Job(row=r))
            for r in rows[:size]
        ]
        return JobConnection(
            edges=edges,
            page_info=page_info(
                [e.cursor for e in edges], more=len(rows) > size, previous=after is not None
            ),
        )


@strawberry.type
class JobMutations:
    @strawberry.mutation(
        description="Imports a delivery manifest (CSV or XLSX, multipart upload) as a job: valid "
        "rows are added in batches with the rules of addPackages, the others reported per row. "
        "dryRun writes nothing and reports; allOrNothing writes nothing if any row is refused."
    )
    async def import_manifest(
        self,
        info: Info[Context, None],
        session_id: Annotated[
            strawberry.ID, strawberry.argument(description="A session the caller manages.")
        ],
        file: Annotated[
            Upload,
            strawberry.argument(
                description="The manifest as a multipart upload: CSV or XLSX, one package a "
                "row (BIPA_IMPORT_MAX_BYTES, BIPA_IMPORT_MAX_ROWS)."
            ),
        ],
        dry_run: Annotated[
            bool,
            strawberry.argument(description="Check every row and report; write nothing."),
        ] = False,
        all_or_nothing: Annotated[
            bool,
            strawberry.argument(description="Write nothing if any row is refused."),
        ] = False,
        idempotency_key: Annotated[
            str | None, strawberry.argument(description=IDEMPOTENCY_KEY)
        ] = None,
    ) -> JobResult:
        return await import_manifest(
            info, session_id, file, dry_run, all_or_nothing, idempotency_key
        )

    @strawberry.mutation(
        description="Writes the session's report (packages, and the payroll of a completed "
        "session) as a job; Job.downloadUrl links the file once it SUCCEEDED."
    )
    async def export_session_report(
        self,
        info: Info[Context, None],
        session_id: Annotated[
            strawberry.ID, strawberry.argument(description="A session the caller manages.")
        ],
        format: Annotated[ReportFormat, strawberry.argument(description="The file's format.")],
        idempotency_key: Annotated[
            str | None, strawberry.argument(description=IDEMPOTENCY_KEY)
        ] = None,
    ) -> JobResult:
        try:
            command = commands.CreateJob(
                parse_uuid(session_id, "session"),
                JobKind.EXPORT_REPORT,
                {"format": format.value},
            )
            row, created = await start_job(info, command, idempotency_key)
        except DomainError as exc:
            return to_error(exc)
        return JobSuccess(job=Job(row=row), created=created)

    @strawberry.mutation(
        description="Cancels a QUEUED or RUNNING job (an import stops at its "
        "next batch; what was committed stays)."
    )
    async def cancel_job(
        self,
        info: Info[Context, None],
        job_id: Annotated[strawberry.ID, strawberry.argument(description="The job's id.")],
    ) -> JobResult:
        caller = await info.context.caller()
        try:
            done = await info.context.services.runner.run_once(
                caller, commands.CancelJob(parse_uuid(job_id, "job")), None
            )
        except DomainError as exc:
            return to_error(exc)
        return JobSuccess(job=Job(row=done.rows["job"]), created=False)


def _state(job: JobRow) -> tuple[Any, ...]:
    return (job.status, job.progress, job.done, job.failed, job.total, job.attempts)


@strawberry.type
class JobSubscriptions:
    @strawberry.subscription(
        description="The job's state at once, then after every change (at most 4 a second), "
        "until it is SUCCEEDED, FAILED or CANCELLED."
    )
    async def job_progress(
        self,
        info: Info[Context, None],
        job_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="A job of a session the caller manages."),
        ],
    ) -> AsyncGenerator[Job, None]:
        caller = await info.context.caller()
        live = info.context.services.live
        if live is None:
            raise GraphQLError("live events are not available on this server")
        try:
            jid = uuid.UUID(str(job_id))
        except ValueError:
            raise GraphQLError("job not found", extensions={"code": "NOT_FOUND"}) from None
        with live.watch_job(jid) as signal:
            last: tuple[Any, ...] | None = None
            while True:
                signal.clear()
                try:
                    # Read and checked again each time: who may follow it can change.
                    async with info.context.services.uow() as uow:
                        row = await job_service.visible_job(uow, caller, jid)
                except NotFound:
                    raise GraphQLError("job not found", extensions={"code": "NOT_FOUND"}) from None
                if _state(row) != last:
                    last = _state(row)
                    yield Job(row=row)
                if row.status in job_service.FINAL:
                    return
                await asyncio.sleep(1 / MAX_PER_SECOND)
                if not signal.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(signal.wait(), POLL_S)
