"""Group commit: concurrent mutations of one session share one transaction.

Every change to a session holds its row lock, so 50 phones scanning into one session queue up
behind it, and each call paid for its own lock, audit write and commit while the others
waited. Calls that arrive while a transaction of their session is running are instead taken
together by the next one: one lock, one audit statement, one commit for all of them, each
with its own result and idempotency key, in arrival order, exactly as if run one by one.

If any call of a shared transaction fails (an error as data, or anything else), the whole
transaction is rolled back and its calls run again one by one, in order, each in its own
transaction, before any later call: one bad request never changes another's outcome. A call
whose idempotency key is already used by an earlier call of the same batch starts the next
batch instead, so it sees that call's committed result (a replay) or its absence. Keys are
claimed before any session is locked, as on the single path, so a retry waiting on a key can
never wait on us in turn.
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
from domain.tasks import detached_task
from domain.uow import UnitOfWork

log = logging.getLogger("bipa.batching")

Ref = dict[str, Any]


class Retry:
    """The outcome of a call whose shared transaction was rolled back: run it on its own."""


RETRY = Retry()
Outcome = Ref | DomainError | Retry
Key = tuple[uuid.UUID, str]


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
    # Its action ran in a transaction that was rolled back: what it cached (the request's
    # loaders) belongs to that transaction and must not be rendered.
    rolled_back: bool = False

    @property
    def idempotency(self) -> Key | None:
        return (self.caller.id, self.key) if self.key is not None else None


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
            # Not in the first caller's context: the worker serves every caller of the group.
            self._workers[group] = detached_task(self._drain(group))
        return await job.future

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
                if batch and not await self._run(batch):
                    for job in batch:  # one by one, in order, before anything later
                        job.rolled_back = True
                        await self._run([job])
        finally:
            # No await between the loop's last check and here: nothing can be queued unseen.
            del self._workers[group]
            for job in self._queues.pop(group, []):
                if not job.future.done():
                    job.future.set_result(RETRY)

    async def _run(self, batch: list[Job]) -> bool:
        """One transaction for `batch`; False if it was rolled back and must run one by one."""
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
                return True
            log.info(
                "shared transaction refused; running its calls one by one",
                extra={"calls": len(batch), "error": type(failed.error).__name__},
            )
            return False
        except asyncio.CancelledError:
            _retry_all(batch)
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
        for job, outcome in zip(batch, outcomes, strict=True):
            assert outcome is not None
            _resolve(job, outcome)
        return True

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
        job.rolled_back = True
        _resolve(job, RETRY)
