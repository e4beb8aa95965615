"""Session reports (CSV, XLSX, PDF) written to the object store; the job's result names the key."""

from __future__ import annotations

import asyncio
from typing import Any

import reports
from db.models import Job
from domain import jobs as job_service
from jobs.deps import JobDeps


async def run(deps: JobDeps, job: Job) -> dict[str, Any]:
    from domain import reports as report_service  # type: ignore[attr-defined]

    fmt = str(job.params["format"])
    async with deps.runner.uow() as uow:
        caller = await job_service.requester(uow, job)
        report = await report_service.build_session_report(uow, job.session_id, caller)
    data = await asyncio.to_thread(reports.render, report, fmt)
    key = job_service.result_key(job, "report", reports.extension(fmt))
    content_type = reports.content_type(fmt)
    await deps.files.store.put(key, data, content_type)
    return {
        "key": key,
        "format": fmt,
        "contentType": content_type,
        "bytes": len(data),
        "filename": f"sessao-{job.session_id}.{reports.extension(fmt)}",
    }
