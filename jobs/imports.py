"""Manifest import: rows added in short batches through the runner, each batch idempotent.

Each batch is one `ImportManifestRows` command with the key `job:<id>:batch:<n>`: a retried
attempt (a transient failure, a killed worker) replays the batches already committed from
their stored results instead of adding their rows again, so every row is added exactly once.
The session row is locked only for one batch at a time: scanners go on between batches.
Each batch moves the job's counters in its own transaction, so progress is what committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import manifest
from db.models import Job, User
from domain import jobs as job_service
from domain import manifests
from domain.commands import Done, ImportManifestRows, ImportProgress, SetJobProgress
from domain.manifests import Outcome
from jobs.deps import JobDeps

# The longest pause between two batches while others write to the session.
MAX_YIELD_S = 1.0


@dataclass
class Tally:
    total: int
    added: int = 0
    problems: list[manifest.RowProblem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len({p.row for p in self.problems})


def batches(
    rows: Sequence[manifest.ManifestRow], size: int
) -> list[tuple[manifest.ManifestRow, ...]]:
    return [tuple(rows[i : i + size]) for i in range(0, len(rows), size)]


async def run(deps: JobDeps, job: Job) -> dict[str, Any]:
    params = job.params
    data = await deps.files.store.get(str(params["key"]))
    parsed = await asyncio.to_thread(
        manifests.read_file, data, params.get("filename"), deps.imports
    )
    async with deps.runner.uow() as uow:
        caller = await job_service.requester(uow, job)
    tally = Tally(total=parsed.total_rows, problems=list(parsed.problems))
    dry_run = bool(params.get("dryRun"))
    all_or_nothing = bool(params.get("allOrNothing"))
    applied = False
    if dry_run or all_or_nothing:
        async with deps.runner.uow() as uow:
            found = await manifests.validate_manifest(
                uow, job.session_id, parsed.rows, actor=caller
            )
        tally.problems.extend(found)
    if not dry_run and not (all_or_nothing and tally.problems):
        await _apply(deps, job, caller, parsed.rows, tally)
        applied = True
    else:
        await _progress(deps, job, tally, done=tally.total - tally.failed)
    return await _report(deps, job, tally, applied=applied, dry_run=dry_run)


async def _apply(
    deps: JobDeps, job: Job, caller: User, rows: Sequence[manifest.ManifestRow], tally: Tally
) -> None:
    await _progress(deps, job, tally, done=0)
    last_seen: int | None = None
    for n, batch in enumerate(batches(rows, deps.imports.batch)):
        # The batch moves the job's counters in its own transaction (one commit per batch).
        before = ImportProgress(job.id, tally.added, tally.failed, tally.total)
        started = time.monotonic()
        done = await deps.runner.run_once(
            caller,
            ImportManifestRows(job.session_id, batch, all_or_nothing=False, job=before),
            f"job:{job.id}:batch:{n}",
        )
        added, problems = outcome_counts(done.ref)
        tally.added += added
        tally.problems.extend(problems)
        last_seen = await _yield_to_others(done, last_seen, time.monotonic() - started)


async def _yield_to_others(done: Done, last_seen: int | None, took: float) -> int | None:
    """When others wrote to the session since our last batch (scanners at work), wait as long
    as this batch took before the next: they get the session's lock (and the CPU) at least
    half of the time, and an import alone runs at full speed. Answers the session's sequence
    after this batch (None on a replay, which wrote nothing now)."""
    session = done.rows.get("session")
    if session is None:
        return None
    written = sum(1 for o in done.rows.get("outcomes", ()) if o.outcome is Outcome.ADDED)
    if last_seen is not None and session.last_sequence - written > last_seen:
        await asyncio.sleep(min(took, MAX_YIELD_S))
    return int(session.last_sequence)


def outcome_counts(ref: dict[str, Any]) -> tuple[int, list[manifest.RowProblem]]:
    """From a batch's stored result (a replay's too): rows now in the session, and problems.

    A row the session already had counts as done: on a retried attempt those are the rows
    the lost attempt added.
    """
    added = 0
    problems: list[manifest.RowProblem] = []
    for o in ref.get("outcomes", []):
        if o["outcome"] in ("ADDED", "ALREADY_PRESENT"):
            added += 1
        elif o["outcome"] == "PROBLEM":
            problems.append(
                manifest.RowProblem(
                    o["row"], o.get("column"), o.get("code", ""), o.get("reason", "")
                )
            )
    return added, problems


async def _progress(deps: JobDeps, job: Job, tally: Tally, *, done: int) -> None:
    # Absolute counters: a replayed attempt writes the same numbers again. A job cancelled
    # meanwhile refuses (JOB_NOT_RUNNING), which ends the attempt.
    await deps.runner.run_once(
        None, SetJobProgress(job.id, done=done, failed=tally.failed, total=tally.total)
    )


async def _report(
    deps: JobDeps, job: Job, tally: Tally, *, applied: bool, dry_run: bool
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "dryRun": dry_run,
        "applied": applied,
        "total": tally.total,
        "added": tally.added,
        "failed": tally.failed,
        "problems": len(tally.problems),
        "reportKey": None,
    }
    if tally.problems:
        ordered = sorted(tally.problems, key=lambda p: (p.row, p.column or ""))
        body = manifest.problems_csv(ordered)
        key = job_service.result_key(job, "problems", "csv")
        await deps.files.store.put(key, body, "text/csv; charset=utf-8")
        result["reportKey"] = key
        # The first problems inline (the whole list is the CSV): small enough for the row.
        result["firstProblems"] = [
            {"row": p.row, "column": p.column, "code": p.code, "reason": p.reason}
            for p in ordered[:50]
        ]
    return result
