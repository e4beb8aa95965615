"""Group commit: concurrent mutations of one session share one transaction.

Every change to a session holds its row lock, so 50 phones scanning into one session queue up
behind it, and each call paid for its own lock, audit write and commit while the others
waited. Calls that arrive while a transaction of their session is running are instead taken
together by the next one: one lock, one audit statement, one commit for all of them, each
with its own result and idempotency key, in arrival order, exactly as if run one by one.

If any call of a shared transaction fails (an error as data, or anything else), the whole
transaction is rolled back and every call in it runs again on its own, so one bad request
never changes another's outcome. Idempotency keys are claimed before any session is locked,
as on the single path, so a retry waiting on a key can never wait on us in turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from db.models import User
from domain import idempotency
from domain.errors import DomainError
from domain.uow import UnitOfWork

log = logging.getLogger("bipa.batching")

Ref = dict[str, Any]


class Retry:
    """The outcome of a call whose shared transaction was rolled back: run it on its own."""


RETRY = Retry()
Outcome = Ref | DomainError | Retry


@dataclass(eq=False)
class Job:
    caller: User
    operation: str
    payload: dict[str, Any]
    key: str | None
    action: Callable[[UnitOfWork, User], Awaitable[Ref]]
    future: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _Failed(Exception):
    def __init__(self, error: DomainError) -> None:
        self.error = error


class Batcher:
    def __init__(self, uow: Callable[[], UnitOfWork], max_batch: int = 100) -> None:
        self._uow = uow
        self.max_batch = max_batch
        self._queues: dict[uuid.UUID, list[Job]] = {}
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.batches = 0  # transactions run, for tests and benchmarks
        self.calls = 0

    async def submit(self, group: uuid.UUID, job: Job) -> Outcome:
        self._queues.setdefault(group, []).append(job)
        if group not in self._workers:
            self._workers[group] = asyncio.create_task(self._drain(group))
        return await job.future

    async def _drain(self, group: uuid.UUID) -> None:
        try:
            while queue := self._queues.get(group):
                batch, rest = queue[: self.max_batch], queue[self.max_batch :]
                if rest:
                    self._queues[group] = rest
                else:
                    del self._queues[group]
                await self._run(batch)
        finally:
            # No await between the loop's last check and here: nothing can be queued unseen.
            del self._workers[group]
            for job in self._queues.pop(group, []):
                if not job.future.done():
                    job.future.set_result(RETRY)

    async def _run(self, batch: list[Job]) -> None:
        # A second call with a key already in this batch would find it claimed but not yet
        # answered; on its own it waits for this commit and then replays the stored result.
        keys: set[tuple[uuid.UUID, str]] = set()
        unique: list[Job] = []
        for job in batch:
            if job.key is not None and (job.caller.id, job.key) in keys:
                _resolve(job, RETRY)
                continue
            if job.key is not None:
                keys.add((job.caller.id, job.key))
            unique.append(job)
        batch = unique
        self.batches += 1
        self.calls += len(batch)
        outcomes: list[Outcome | None] = []
        try:
            async with self._uow() as uow:
                for job in batch:
                    outcomes.append(await self._claim(uow, job))
                for i, job in enumerate(batch):
                    if outcomes[i] is not None:
                        continue
                    try:
                        ref = await job.action(uow, job.caller)
                    except DomainError as exc:
                        raise _Failed(exc) from None
                    if job.key is not None:
                        await idempotency.remember(uow, job.caller, job.key, ref)
                    outcomes[i] = ref
                await uow.commit()
        except _Failed as failed:
            if len(batch) == 1:  # alone, this is the single path's answer already
                _resolve(batch[0], failed.error)
            else:
                log.info(
                    "shared transaction refused; running its calls one by one",
                    extra={"calls": len(batch), "error": type(failed.error).__name__},
                )
                _retry_all(batch)
            return
        except asyncio.CancelledError:
            _retry_all(batch)
            raise
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
            else:
                log.warning(
                    "shared transaction failed; running its calls one by one",
                    extra={"calls": len(batch), "error": type(exc).__name__},
                )
                _retry_all(batch)
            return
        for job, outcome in zip(batch, outcomes, strict=True):
            assert outcome is not None
            _resolve(job, outcome)

    @staticmethod
    async def _claim(uow: UnitOfWork, job: Job) -> Outcome | None:
        """The stored result of a replay, an error as data, or None: run the call."""
        if job.key is None:
            return None
        try:
            return await idempotency.begin(uow, job.caller, job.key, job.operation, job.payload)
        except DomainError as exc:
            # A refused key writes nothing, so the other calls need not be run again.
            return exc


def _resolve(job: Job, outcome: Outcome) -> None:
    if not job.future.done():
        job.future.set_result(outcome)


def _retry_all(batch: list[Job]) -> None:
    for job in batch:
        _resolve(job, RETRY)
