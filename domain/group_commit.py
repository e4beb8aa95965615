"""Group commit: concurrent AddPackages of one session share one transaction.

Every change to a session holds its row lock, so 50 phones scanning into one session queue up
behind it, and each call paid for its own lock, audit write and commit while the others
waited. Calls that arrive while a transaction of their session is running are instead taken
together by the next one: one lock, one audit statement, one commit for all of them, each
with its own result and idempotency key, in arrival order, exactly as if run one by one.

If any call of a shared transaction fails (a refusal, or anything else), the whole
transaction is rolled back and its calls run again one by one, in order, each in its own
transaction, before any later call: one bad request never changes another's outcome. A call
whose idempotency key is already used by an earlier call of the same batch starts the next
batch instead, so it sees that call's committed result (a replay) or its absence. Each batch
waits in its session's line (domain/operations.py) before it takes a connection.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from db.models import User
from db.tasks import detached_task
from domain.commands import AddPackages, Command, Done, Ref, Result
from domain.errors import DomainError
from domain.uow import UnitOfWork

log = logging.getLogger("bipa.group_commit")


class Retry:
    """The outcome of a call whose shared transaction was rolled back: run it on its own."""


RETRY = Retry()
Key = tuple[uuid.UUID, str]


class Runner(Protocol):
    """What group commit needs of domain/operations.py's runner."""

    def hold(self, session_id: uuid.UUID | None) -> AbstractAsyncContextManager[None]: ...

    def uow(self) -> UnitOfWork: ...

    async def claim(
        self, uow: UnitOfWork, caller: User | None, command: Command, key: str | None
    ) -> Ref | None: ...

    async def apply(
        self, uow: UnitOfWork, caller: User | None, command: Command, key: str | None
    ) -> Result: ...

    def replay(self, caller: User | None, key: str | None, stored: Ref) -> Done: ...

    async def alone(
        self, caller: User | None, command: Command, key: str | None, session_id: uuid.UUID | None
    ) -> Done: ...


@dataclass(eq=False)
class Job:
    caller: User
    command: AddPackages
    key: str | None
    future: asyncio.Future[Done | DomainError | Retry] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def idempotency(self) -> Key | None:
        return (self.caller.id, self.key) if self.key is not None else None


class _Failed(Exception):
    def __init__(self, error: DomainError) -> None:
        self.error = error


class Batcher:
    def __init__(self, runner: Runner, max_batch: int = 100) -> None:
        self._runner = runner
        self.max_batch = max_batch
        self._queues: dict[uuid.UUID, list[Job]] = {}
        self._workers: dict[uuid.UUID, asyncio.Task[None]] = {}
        self.batches = 0  # transactions run, for tests and benchmarks
        self.calls = 0

    async def submit(
        self, group: uuid.UUID, caller: User, command: AddPackages, key: str | None
    ) -> Done:
        job = Job(caller, command, key)
        self._queues.setdefault(group, []).append(job)
        if group not in self._workers:
            # Not in the first caller's context: the worker serves every caller of the group.
            self._workers[group] = detached_task(self._drain(group))
        outcome = await job.future
        if isinstance(outcome, Retry):
            return await self._runner.alone(caller, command, key, group)
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    def _next_batch(self, group: uuid.UUID) -> list[Job]:
        """The waiting calls in order, up to max_batch, stopping before a repeated key."""
        queue = self._queues.pop(group)
        batch: list[Job] = []
        keys: set[Key] = set()
        for i, job in enumerate(queue):
            if job.future.done():  # its request was cancelled: never run it
                continue
            key = job.idempotency
            if len(batch) == self.max_batch or (key is not None and key in keys):
                self._queues[group] = queue[i:]
                break
            if key is not None:
                keys.add(key)
            batch.append(job)
        return batch

    async def _drain(self, group: uuid.UUID) -> None:
        try:
            while self._queues.get(group):
                batch = self._next_batch(group)
                if batch and not await self._run(group, batch):
                    for job in batch:  # one by one, in order, before anything later
                        await self._run(group, [job])
        finally:
            # No await between the loop's last check and here: nothing can be queued unseen.
            del self._workers[group]
            for job in self._queues.pop(group, []):
                if not job.future.done():
                    job.future.set_result(RETRY)

    async def _run(self, group: uuid.UUID, batch: list[Job]) -> bool:
        """One transaction for `batch`; False if it was rolled back and must run one by one."""
        self.batches += 1
        self.calls += len(batch)
        runner = self._runner
        outcomes: list[Done | DomainError | None] = []
        results: list[Result | None] = []
        try:
            async with runner.hold(group), runner.uow() as uow:
                for job in batch:
                    outcomes.append(await self._claim(runner, uow, job))
                for i, job in enumerate(batch):
                    if outcomes[i] is not None:
                        results.append(None)
                        continue
                    try:
                        results.append(await runner.apply(uow, job.caller, job.command, job.key))
                    except DomainError as exc:
                        raise _Failed(exc) from None
                await uow.commit()
        except _Failed as failed:
            if len(batch) == 1:  # alone, this is the single path's answer already
                _resolve(batch[0], failed.error)
                return True
            log.info(
                "shared transaction refused; running its calls one by one",
                extra={"calls": len(batch), "error": failed.error.code},
            )
            return False
        except asyncio.CancelledError:
            for job in batch:
                _resolve(job, RETRY)
            raise
        except Exception as exc:
            if len(batch) == 1:
                if not batch[0].future.done():
                    batch[0].future.set_exception(exc)
                return True
            log.warning(
                "shared transaction failed; running its calls one by one",
                extra={"calls": len(batch), "error": type(exc).__name__},
            )
            return False
        for job, outcome, result in zip(batch, outcomes, results, strict=True):
            if outcome is not None:
                _resolve(job, outcome)
            elif result is not None:
                _resolve(job, Done.of(result))
        return True

    @staticmethod
    async def _claim(runner: Runner, uow: UnitOfWork, job: Job) -> Done | DomainError | None:
        """The stored result of a replay, a refused key, or None: run the call."""
        try:
            stored = await runner.claim(uow, job.caller, job.command, job.key)
        except DomainError as exc:
            # A refused key writes nothing, so the other calls need not be run again.
            return exc
        return runner.replay(job.caller, job.key, stored) if stored is not None else None


def _resolve(job: Job, outcome: Done | DomainError | Retry) -> None:
    if not job.future.done():
        job.future.set_result(outcome)
