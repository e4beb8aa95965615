"""Session reports (CSV, XLSX, PDF) written to the object store; the job's result names the key."""

from __future__ import annotations

from typing import Any

import reports
from db.models import Job
from domain import jobs as job_service
from domain import reports as report_service
from jobs.deps import JobDeps


async def run(deps: JobDeps, job: Job) -> dict[str, Any]:
    fmt = str(job.params["format"])
    async with deps.runner.uow() as uow:
        caller = await job_service.requester(uow, job)
        report = await report_service.build_session_report(uow, job.session_id, caller)
    key = await report_service.store_report(deps.files.store, report, fmt)
    return {
        "key": key,
        "format": fmt,
        "contentType": reports.content_type(fmt),
        "filename": f"sessao-{job.session_id}.{reports.extension(fmt)}",
    }
