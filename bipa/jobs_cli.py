"""`bipa import FILE --session ID` and `bipa export --session ID --format CSV|XLSX|PDF`.

The same jobs as `importManifest` and `exportSessionReport`: the file is checked and stored by
`domain.manifests.stage_upload`, `CreateJob` runs through the runner as the API's does, and
the job is followed from its row until it ends, with a progress bar on stderr.

Who acts: the user whose API token is given (`--token`, or BIPA_TOKEN so that it stays out
of the process list), with that user's permissions, as over the API.

Who runs the job: a job worker inside this process for the duration, on a queue of its own,
so it runs only the job this command asked for (never another user's import, which a stop
at the end would cut short). A running `bipa worker` listens on every queue and may take the
job first: either way it is one job, followed from its row. When the same work was already
queued or running (`created: false`), the command follows that job, which its own worker runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bipa.app import import_limits, make_job_worker
from bipa.runtime import JobRuntime, job_runtime
from bipa.settings import Settings
from db.enums import JobKind, JobStatus
from db.models import Job, User
from domain import commands, manifests, users
from domain import jobs as job_service
from domain.errors import DomainError
from jobs.queue import Queue

POLL_S = 0.25
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    err = Console(stderr=True)
    token = args.token or os.environ.get("BIPA_TOKEN", "")
    if not token:
        err.print("bipa: give the acting user's API token with --token or BIPA_TOKEN")
        return EXIT_USAGE
    try:
        session_id = uuid.UUID(args.session)
    except ValueError:
        err.print("bipa: --session must be a session id (UUID)")
        return EXIT_USAGE
    data: bytes | None = None
    if args.command == "import":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            err.print(f"bipa: cannot read {args.file}: {exc.strerror}")
            return EXIT_USAGE
    try:
        return asyncio.run(_main(args, settings, url, token, session_id, data, err))
    except DomainError as exc:
        err.print(f"bipa: {exc.message} ({exc.code})")
        return EXIT_REFUSED


async def _main(
    args: argparse.Namespace,
    settings: Settings,
    url: str,
    token: str,
    session_id: uuid.UUID,
    data: bytes | None,
    err: Console,
) -> int:
    async with job_runtime(settings, url, pool_size=3) as rt:
        async with rt.runner.uow() as uow:
            caller = await users.authenticate(uow, token)
        if data is not None:
            job = await _create_import(rt, caller, session_id, data, args)
        else:
            command = commands.CreateJob(session_id, JobKind.EXPORT_REPORT, {"format": args.format})
            job = await _create(rt, caller, command, args.key)
        job = await _follow(rt, caller, job, err)
        if data is not None:
            return await _import_outcome(rt, job, args, err)
        return await _export_outcome(rt, job, args, err)


async def _create_import(
    rt: JobRuntime, caller: User, session_id: uuid.UUID, data: bytes, args: argparse.Namespace
) -> Job:
    store = rt.proof.store
    params = await manifests.stage_upload(
        store,
        session_id,
        data,
        args.file.name,
        import_limits(rt.settings),
        dry_run=args.dry_run,
        all_or_nothing=args.all_or_nothing,
    )
    stored: str | None = params["key"]
    try:
        command = commands.CreateJob(session_id, JobKind.IMPORT_MANIFEST, params)
        job = await _create(rt, caller, command, args.key)
        if job.params.get("key") == stored:
            stored = None  # the job reads it
        return job
    finally:
        await manifests.drop_upload(store, stored)


async def _create(
    rt: JobRuntime, caller: User, command: commands.CreateJob, key: str | None
) -> Job:
    done = await rt.runner.run_once(caller, command, key)
    job_id = uuid.UUID(str(done.ref["job"]))
    async with rt.runner.uow() as uow:
        return await job_service.visible_job(uow, caller, job_id)


async def _follow(rt: JobRuntime, caller: User, job: Job, err: Console) -> Job:
    """Runs a worker on a queue of this process's own and follows the job's row to its end."""
    own = f"cli-{uuid.uuid4().hex[:12]}"
    worker = make_job_worker(
        rt.settings, rt.jobs_app, rt.runner, rt.proof, rt.database_url, queues=[own]
    )
    task = asyncio.create_task(worker.run())
    try:
        if job.status not in job_service.FINAL:
            # Harmless when already waiting (its queueing lock): then another worker runs it.
            await Queue(rt.jobs_app).defer(job.id, queue=own)
        return await _watch(rt, caller, job, err)
    finally:
        worker.stop()
        await asyncio.wait({task}, timeout=35)


async def _watch(rt: JobRuntime, caller: User, job: Job, err: Console) -> Job:
    label = "importando" if job.kind is JobKind.IMPORT_MANIFEST else "gerando relatório"
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=None, status=job.status.value)
        while True:
            async with rt.runner.uow() as uow:
                job = await job_service.visible_job(uow, caller, job.id)
            if job.kind is JobKind.IMPORT_MANIFEST:
                bar.update(task, total=job.total, completed=job.done + job.failed)
            else:
                bar.update(task, total=100, completed=job.progress)
            bar.update(task, status=job.status.value)
            if job.status in job_service.FINAL:
                if job.status is JobStatus.SUCCEEDED and job.total is None:
                    bar.update(task, total=100, completed=100)
                return job
            await asyncio.sleep(POLL_S)


def _ended_badly(job: Job, err: Console) -> bool:
    if job.status is JobStatus.SUCCEEDED:
        return False
    reason = f": {job.last_error}" if job.last_error else ""
    err.print(f"bipa: the job {job.id} ended {job.status.value}{reason}")
    return True


async def _import_outcome(rt: JobRuntime, job: Job, args: argparse.Namespace, err: Console) -> int:
    if _ended_badly(job, err):
        return EXIT_REFUSED
    result = job.result or {}
    verb = "would add" if result.get("dryRun") else "added"
    applied = result.get("applied") or result.get("dryRun")
    print(
        f"job {job.id}: {job.total} rows, {verb} {job.done if applied else 0},"
        f" refused {job.failed}" + ("" if applied else " (all or nothing: nothing written)")
    )
    for p in result.get("firstProblems", [])[:20]:
        where = f" {p['column']}" if p.get("column") else ""
        err.print(f"  linha {p['row']}{where}: {p['reason']} ({p['code']})")
    key = result.get("reportKey")
    if key and args.problems is not None:
        body = await rt.proof.store.get(str(key))
        await asyncio.to_thread(args.problems.write_bytes, body)
        print(f"problems: {args.problems}")
    return EXIT_OK if job.failed == 0 else EXIT_REFUSED


async def _export_outcome(rt: JobRuntime, job: Job, args: argparse.Namespace, err: Console) -> int:
    if _ended_badly(job, err):
        return EXIT_REFUSED
    result = job.result or {}
    output: Path = args.output or Path(str(result["filename"]))
    body = await rt.proof.store.get(str(result["key"]))
    await asyncio.to_thread(output.write_bytes, body)
    print(output)
    return EXIT_OK
