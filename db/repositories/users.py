"""Users and API tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.enums import Role
from db.models import ApiToken, User
from db.repositories import keyset

# Built once: the hot path of every scan then skips SQLAlchemy's statement construction and
# cache-key walk (tens of microseconds per statement).
_BY_TOKEN_HASH = (
    select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, user: User) -> None:
        self.session.add(user)

    def add_token(self, token: ApiToken) -> None:
        self.session.add(token)

    async def get(self, user_id: uuid.UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_many(self, ids: Sequence[uuid.UUID]) -> list[User]:
        if not ids:
            return []
        result = await self.session.scalars(select(User).where(User.id.in_(ids)))
        return list(result)

    async def by_token_hash(self, token_hash: str) -> User | None:
        result = await self.session.scalars(_BY_TOKEN_HASH, {"token_hash": token_hash})
        return result.one_or_none()

    async def by_token_hashes(self, token_hashes: Sequence[str]) -> dict[str, User]:
        """The users of the tokens still valid among `token_hashes`, by hash: one statement
        however many (the periodic re-check of open websockets)."""
        if not token_hashes:
            return {}
        stmt = (
            select(ApiToken.token_hash, User)
            .join(User, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash.in_(token_hashes), ApiToken.revoked_at.is_(None))
        )
        return {token_hash: user for token_hash, user in await self.session.execute(stmt)}

    async def by_telegram_id(self, telegram_id: str) -> User | None:
        stmt = select(User).where(User.telegram_id == telegram_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def page(
        self,
        *,
        role: Role | None,
        search: str | None,
        first: int,
        after: tuple[str, uuid.UUID] | None,
        before: tuple[str, uuid.UUID] | None = None,
        backward: bool = False,
    ) -> tuple[list[User], int]:
        """By name (then id): first + 1 rows in the order read (keyset.page), and the total.
        `search` matches a part of the name, case and accents aside."""
        conditions = []
        if role is not None:
            conditions.append(User.role == role)
        if search:
            conditions.append(keyset.contains(User.name, search))
        total = await self.session.scalar(select(func.count()).select_from(User).where(*conditions))
        seek = keyset.Seek(first, after=after, before=before, backward=backward)
        stmt = keyset.page(
            select(User).where(*conditions), (User.name, User.id), seek, descending=False
        )
        return list(await self.session.scalars(stmt)), int(total or 0)
