"""Manifest import: rows added in short batches through the runner, each batch idempotent.

Each batch is one `ImportManifestRows` command keyed by the job and the rows it holds
(`job:<id>:rows:<first>-<end>`): a retried attempt (a transient failure, a killed worker)
replays the batches already committed from their stored results instead of adding their rows
again; a batch cut differently on the retry finds its rows in the session (ALREADY_PRESENT,
counted as done). Either way every row is added exactly once.
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
from domain.packages import MAX_PACKAGES_PER_CALL
from jobs.deps import JobDeps

# While others write to the session, the import waits this many times as long as its last
# batch took (at most MAX_YIELD_S): it then has a quarter of the time, and scanners of the
# same session keep their p95 within 2x (bench/import_manifest.py, 20 scanners: 2.1-2.3x
# with a wait as long as the batch, 1.95x with twice, 1.15x with three times).
YIELD_FACTOR = 3.0
MAX_YIELD_S = 1.0
# A batch grows (doubling, up to MAX_PACKAGES_PER_CALL rows) only while nobody else writes
# to the session and it held the lock for less than this: each batch costs ~13 ms of fixed
# work (its transaction, key, lock, counters), a third of a 100-row batch's time.
GROW_BELOW_S = 0.25


@dataclass
class Pace:
    """The size of the next batch, and how long to wait before it.

    While others write to the session (scanners at work), batches are `base` rows and each
    is followed by a pause YIELD_FACTOR times as long as it took (at most MAX_YIELD_S): they
    get the session's lock (and the CPU) three quarters of the time. An import alone grows
    its batches.
    """

    base: int
    size: int = 0
    # The session's sequence after our last batch (None before the first, or after a replay).
    last_seen: int | None = None

    def __post_init__(self) -> None:
        self.size = self.size or self.base

    def after(self, done: Done, took: float) -> float:
        """Takes a batch's outcome; answers the seconds to wait before the next."""
        session = done.rows.get("session")
        if session is None:  # a replay wrote nothing now: go on at once
            self.last_seen = None
            self.size = min(self.size * 2, MAX_PACKAGES_PER_CALL)
            return 0.0
        written = sum(1 for o in done.rows.get("outcomes", ()) if o.outcome is Outcome.ADDED)
        others = self.last_seen is not None and session.last_sequence - written > self.last_seen
        self.last_seen = int(session.last_sequence)
        if others:
            self.size = self.base
            return min(took * YIELD_FACTOR, MAX_YIELD_S)
        if took < GROW_BELOW_S:
            self.size = min(self.size * 2, MAX_PACKAGES_PER_CALL)
        return 0.0


@dataclass
class Tally:
    total: int
    added: int = 0
    problems: list[manifest.RowProblem] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len({p.row for p in self.problems})


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
    async with deps.runner.uow() as uow:
        session = await uow.sessions.get(job.session_id)
    # From the session's sequence now: scanners at work show after the first batch already.
    pace = Pace(deps.imports.batch, last_seen=session.last_sequence if session else None)
    start = 0
    while start < len(rows):
        batch = tuple(rows[start : start + pace.size])
        end = start + len(batch)
        # The batch moves the job's counters in its own transaction (one commit per batch).
        before = ImportProgress(job.id, tally.added, tally.failed, tally.total)
        started = time.monotonic()
        done = await deps.runner.run_once(
            caller,
            ImportManifestRows(job.session_id, batch, all_or_nothing=False, job=before),
            f"job:{job.id}:rows:{start}-{end}",
        )
        added, problems = outcome_counts(done.ref)
        tally.added += added
        tally.problems.extend(problems)
        start = end
        wait = pace.after(done, time.monotonic() - started)
        if wait:
            await asyncio.sleep(wait)


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
