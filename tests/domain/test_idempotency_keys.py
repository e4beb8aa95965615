"""Idempotency keys: replay, conflict, expiry and purge, on real PostgreSQL (rolled back)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from db.base import utcnow
from db.enums import Role
from domain import idempotency
from domain import users as user_service
from domain.errors import IdempotencyConflict, ValidationFailed
from domain.uow import UnitOfWork


async def test_replay_conflict_expiry_and_purge(uow_factory: Callable[[], UnitOfWork]) -> None:
    async with uow_factory() as uow:
        actor = (await user_service.create_user(uow, None, "Key Owner", Role.MANAGER)).user
        assert await idempotency.begin(uow, actor, "k1", "createSession", {"name": "a"}) is None
        await idempotency.remember(uow, actor, "k1", {"session": "s-1"})
        await uow.flush()
        assert await idempotency.begin(uow, actor, "k1", "createSession", {"name": "a"}) == {
            "session": "s-1"
        }
        with pytest.raises(IdempotencyConflict):
            await idempotency.begin(uow, actor, "k1", "createSession", {"name": "b"})
        with pytest.raises(ValidationFailed):
            await idempotency.begin(uow, actor, "", "createSession", {})
        row = await uow.idempotency.claim(actor.id, "k1", "x", "y", utcnow())
        assert row is not None and row.expires_at - row.created_at >= timedelta(hours=24)
        # An expired key is reclaimed as new; the purge removes only expired ones.
        row.expires_at = utcnow() - timedelta(seconds=1)
        await uow.flush()
        assert await idempotency.begin(uow, actor, "k1", "createSession", {"name": "c"}) is None
        await idempotency.begin(uow, actor, "k2", "createSession", {"name": "d"})
        expired = await uow.idempotency.claim(actor.id, "k2", "x", "y", utcnow())
        assert expired is not None
        expired.expires_at = utcnow() - timedelta(hours=1)
        await uow.flush()
        assert await uow.idempotency.purge_expired(utcnow()) == 1
        assert await idempotency.begin(uow, actor, "k1", "createSession", {"name": "c"}) == {}
