"""The command runner: the one way a command runs, for every front-end.

`Runner.run_once(caller, command, key)` claims the idempotency key (or returns the stored
result), opens the unit of work, calls the command's one service, stores the result for
replays, commits, and publishes the committed events (UnitOfWork.commit). GraphQL resolvers,
the bot, the CLI and background jobs all call it; nobody else opens a transaction for a
command.

Before any connection is taken, a command that changes a session waits in that session's
line in this process (`SessionLines`), then for one of a bounded number of transaction slots:
waiters park there instead of each holding a pooled connection idle in a transaction in front
of the row lock, so a burst of writers on many sessions never exhausts the pool. Concurrent
`AddPackages` on one session share a transaction (domain/group_commit.py): the runner's
business, invisible to the caller.

Refusals are raised as `DomainError`s (each with its code); front-ends turn them into their
own words (errors as data in GraphQL, Portuguese in the bot).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
import weakref
from collections.abc import AsyncIterator

from cryptography.exceptions import InvalidTag
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import User
from domain import idempotency
from domain.commands import AddPackages, Command, Deps, Done, Ref, Result, execute
from domain.errors import ValidationFailed
from domain.events import EventPublisher
from domain.group_commit import Batcher
from domain.uow import UnitOfWork


class SessionLines:
    """One waiting line per session inside this process, in front of the row lock."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[uuid.UUID, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    def lock(self, session_id: uuid.UUID) -> asyncio.Lock:
        """The line's lock; it lives while somebody holds a reference to it."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def hold(self, session_id: uuid.UUID | None) -> AsyncIterator[None]:
        if session_id is None:
            yield
            return
        async with self.lock(session_id):
            yield


class Runner:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        publisher: EventPublisher | None = None,
        *,
        currency: str = "BRL",
        deps: Deps | None = None,
        group_commit: bool = True,
        max_transactions: int = 10,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.publisher = publisher
        self.currency = currency
        self.deps = deps or Deps()
        self.group_commit = group_commit
        self.lines = SessionLines()
        # Command transactions running at once in this process: with the pool's default of
        # 10 (+10 overflow), writers never take the connections that reads and health checks
        # need, however many sessions are busy.
        self._slots = asyncio.Semaphore(max_transactions)
        self.batches = Batcher(self)

    @contextlib.asynccontextmanager
    async def hold(self, session_id: uuid.UUID | None) -> AsyncIterator[None]:
        """Waits in the session's line, then for a transaction slot: a slot is never held
        while waiting in a line, so the two cannot wait on each other."""
        async with self.lines.hold(session_id), self._slots:
            yield

    def uow(self) -> UnitOfWork:
        """A unit of work for reads (front-ends) and for the runner's own transactions."""
        return UnitOfWork(self.sessionmaker, self.publisher, currency=self.currency)

    async def run_once(self, caller: User | None, command: Command, key: str | None = None) -> Done:
        """Runs `command` once for `key`: a replay answers the stored result instead."""
        session_id = await self.session_of(command)
        if (
            self.group_commit
            and session_id is not None
            and isinstance(command, AddPackages)
            and caller is not None
        ):
            return await self.batches.submit(session_id, caller, command, key)
        return await self.alone(caller, command, key, session_id)

    async def alone(
        self, caller: User | None, command: Command, key: str | None, session_id: uuid.UUID | None
    ) -> Done:
        """One command in a transaction of its own, after waiting in its session's line."""
        async with self.hold(session_id), self.uow() as uow:
            stored = await self.claim(uow, caller, command, key)
            if stored is not None:
                return self.replay(caller, key, stored)
            result = await self.apply(uow, caller, command, key)
            await uow.commit()
        return Done.of(result)

    async def stored(self, caller: User, key: str) -> Ref | None:
        """The stored result of `key`, whatever its request; None if it was never used.

        For front-ends that must know before slow work outside any transaction (the bot
        decoding a photo of an update Telegram sent twice). Claims nothing: the look ends
        with a rollback.
        """
        async with self.uow() as uow:
            stored = await idempotency.peek(uow, caller, key)
        return self.replay(caller, key, stored).ref if stored is not None else None

    async def session_of(self, command: Command) -> uuid.UUID | None:
        """The session whose line the command waits in (one short read for package ids)."""
        session_id = command.session_id_hint
        if session_id is not None:
            return session_id
        package_id = command.package_id_hint
        if package_id is None:
            return None
        async with self.uow() as uow:
            return await uow.packages.session_of(package_id)

    async def claim(
        self, uow: UnitOfWork, caller: User | None, command: Command, key: str | None
    ) -> Ref | None:
        if key is None:
            return None
        if caller is None:
            raise TypeError("idempotency keys belong to a caller")  # a bug, not user input
        if command.seals_private and self.deps.box is None:
            raise ValidationFailed(
                f"{command.operation} takes no idempotencyKey on this server (no secret key)",
                field="idempotencyKey",
                code="IDEMPOTENCY_UNAVAILABLE",
            )
        return await idempotency.begin(uow, caller, key, command.operation, command.fingerprint())

    async def apply(
        self, uow: UnitOfWork, caller: User | None, command: Command, key: str | None
    ) -> Result:
        result = await execute(uow, caller, command, self.deps)
        if key is not None and caller is not None:
            response = result.ref
            if command.seals_private and result.private:
                response = {**result.ref, SEALED: self._seal(caller, key, result.private)}
            await idempotency.remember(uow, caller, key, response)
        return result

    def replay(self, caller: User | None, key: str | None, stored: Ref) -> Done:
        """A stored answer as its caller gets it again: sealed values opened, never shown
        to anyone else (they are bound to the caller and the key)."""
        sealed = stored.get(SEALED)
        ref = {k: v for k, v in stored.items() if k != SEALED}
        if not isinstance(sealed, dict) or caller is None or key is None or self.deps.box is None:
            return Done(ref, replayed=True)
        box = self.deps.box
        try:
            private = {
                name: box.decrypt(base64.b64decode(blob), _context(caller, key, name))
                for name, blob in sealed.items()
            }
        except InvalidTag:
            # Sealed under another server key (BIPA_SECRET_KEY changed since): the work was
            # done and stays done; only its private part cannot be shown again.
            raise ValidationFailed(
                "this request was already done, but its private answer can no longer be "
                "opened (the server's secret key changed): it is not repeated",
                field="idempotencyKey",
                code="IDEMPOTENCY_ANSWER_LOST",
                params={k: str(v) for k, v in ref.items() if isinstance(v, str)},
            ) from None
        return Done(ref, replayed=True, private=private)

    def _seal(self, caller: User, key: str, private: dict[str, str]) -> dict[str, str]:
        box = self.deps.box
        assert box is not None  # claim refused the key without one
        return {
            name: base64.b64encode(box.encrypt(value, _context(caller, key, name))).decode()
            for name, value in private.items()
        }


# The part of a stored answer that holds its sealed private values (never rendered).
SEALED = "sealed"


def _context(caller: User, key: str, name: str) -> bytes:
    """What a sealed value is bound to: moved to another caller's or key's record, it does
    not decrypt."""
    return f"bipa-idempotent-private-v1|{caller.id}|{name}|{key}".encode()
