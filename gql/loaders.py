"""DataLoaders, one set per HTTP operation, reading in the operation's snapshot.

They make the number of statements of a query independent of the number of packages:
every nested link (address, deliverer with its user, owner, progress, session) is one
batched statement per kind.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

from strawberry.dataloader import DataLoader

from db.models import (
    DeliverySession,
    PackageProof,
    ProofObject,
    SessionAddress,
    SessionDeliverer,
    User,
)
from domain.uow import UnitOfWork

K = TypeVar("K")
V = TypeVar("V")


class Loaders:
    def __init__(self, read: Callable[[], AbstractAsyncContextManager[UnitOfWork]]) -> None:
        self._read = read
        self.users = self._by_id(lambda uow, ids: uow.users.get_many(ids))
        self.addresses = self._by_id(lambda uow, ids: uow.addresses.get_many(ids))
        self.deliverers = self._by_id(lambda uow, ids: uow.deliverers.get_many_with_users(ids))
        self.sessions = self._by_id(lambda uow, ids: uow.sessions.get_many(ids))
        self.packages = self._by_id(lambda uow, ids: uow.packages.get_many(ids))
        self.progress: DataLoader[uuid.UUID, dict[str, int]] = DataLoader(self._progress)
        self.session_deliverers: DataLoader[uuid.UUID, list[SessionDeliverer]] = DataLoader(
            self._session_deliverers
        )
        self.session_addresses: DataLoader[uuid.UUID, list[SessionAddress]] = DataLoader(
            self._session_addresses
        )
        self.proofs: DataLoader[uuid.UUID, tuple[PackageProof, list[ProofObject]] | None] = (
            DataLoader(self._proofs)
        )

    def uow(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._read()

    def _by_id(
        self, fetch: Callable[[UnitOfWork, Sequence[uuid.UUID]], Awaitable[Sequence[V]]]
    ) -> DataLoader[uuid.UUID, V | None]:
        async def load(keys: list[uuid.UUID]) -> list[V | None]:
            async with self.uow() as uow:
                rows = await fetch(uow, keys)
            by_id = {row.id: row for row in rows}  # type: ignore[attr-defined]
            return [by_id.get(k) for k in keys]

        return DataLoader(load)

    async def _progress(self, keys: list[uuid.UUID]) -> list[dict[str, int]]:
        async with self.uow() as uow:
            counts = await uow.packages.progress(keys)
        return [counts.get(k, {}) for k in keys]

    async def _session_deliverers(self, keys: list[uuid.UUID]) -> list[list[SessionDeliverer]]:
        async with self.uow() as uow:
            rows = await uow.deliverers.for_sessions_with_users(keys)
        grouped: dict[uuid.UUID, list[SessionDeliverer]] = {k: [] for k in keys}
        for row in rows:
            grouped[row.session_id].append(row)
        return [grouped[k] for k in keys]

    async def _session_addresses(self, keys: list[uuid.UUID]) -> list[list[SessionAddress]]:
        async with self.uow() as uow:
            rows = await uow.addresses.for_sessions(keys)
        grouped: dict[uuid.UUID, list[SessionAddress]] = {k: [] for k in keys}
        for row in rows:
            grouped[row.session_id].append(row)
        return [grouped[k] for k in keys]

    async def _proofs(
        self, keys: list[uuid.UUID]
    ) -> list[tuple[PackageProof, list[ProofObject]] | None]:
        async with self.uow() as uow:
            found = await uow.proofs.for_packages(keys)
        by_package = {p.package_id: (p, objects) for p, objects in found}
        return [by_package.get(k) for k in keys]

    def prime_user(self, user: User) -> None:
        self.users.prime(user.id, user)

    def prime_session(self, session: DeliverySession) -> None:
        self.sessions.prime(session.id, session, force=True)
