"""Per-request context. Holds no database session: each operation opens its own unit of work."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket

from db.models import User
from domain import users as user_service
from domain.errors import Unauthenticated
from domain.events import EventPublisher
from domain.scanning import ScanPool
from domain.tokens import hash_token
from domain.uow import UnitOfWork
from domain.webhooks import WebhookConfig
from gql.batching import Batcher
from gql.loaders import Loaders
from live.events import LiveEvents


class TokenCache:
    """Bearer tokens verified in the last `ttl` seconds, by hash, with their (detached) user.

    A scanner sends a request per parcel; reading the token row for each one was about 5% of a
    scan's CPU. Users are never changed or deleted through the API, so what is cached stays
    right; a token revoked in the database is refused again within `ttl` seconds.
    """

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._users: OrderedDict[str, tuple[float, User]] = OrderedDict()

    def get(self, token: str) -> User | None:
        if self.ttl <= 0 or not token:
            return None
        key = hash_token(token)
        hit = self._users.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            del self._users[key]
            return None
        return hit[1]

    def put(self, token: str, user: User) -> None:
        if self.ttl <= 0 or not token:
            return
        key = hash_token(token)
        self._users[key] = (time.monotonic() + self.ttl, user)
        self._users.move_to_end(key)
        if len(self._users) > self.size:
            self._users.popitem(last=False)

    def forget(self, token: str) -> None:
        """Found invalid in the database (gql/live/transport.py): refused from now on."""
        self._users.pop(hash_token(token), None)


@dataclass
class Services:
    """What the GraphQL layer needs from the composition root (bipa/app.py)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    publisher: EventPublisher
    live: LiveEvents | None = None
    scanner: ScanPool | None = None
    webhooks: WebhookConfig | None = None
    production: bool = False
    currency: str = "BRL"
    extras: dict[str, Any] = field(default_factory=dict)
    tokens: TokenCache = field(default_factory=lambda: TokenCache(0))
    group_commit: bool = True
    batches: Batcher = field(init=False)

    def __post_init__(self) -> None:
        self.batches = Batcher(self.uow)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessionmaker, self.publisher, currency=self.currency)


def unauthenticated(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


def bearer(value: str | None) -> str:
    if not value:
        return ""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@dataclass
class Context:
    request: Request | WebSocket
    services: Services
    token: str = ""
    _user: User | None = None
    log_fields: dict[str, Any] | None = None
    # Set by Strawberry from the graphql-transport-ws connection_init payload.
    connection_params: dict[str, Any] | None = None

    _loaders: Loaders | None = None

    @property
    def loaders(self) -> Loaders:
        """Per HTTP request (one operation); fresh each time on a long-lived websocket."""
        if isinstance(self.request, WebSocket):
            return Loaders(self.services.sessionmaker)
        if self._loaders is None:
            self._loaders = Loaders(self.services.sessionmaker)
        return self._loaders

    def forget_loaders(self) -> None:
        """Drops what the loaders cached, e.g. rows of a transaction that was rolled back."""
        self._loaders = None

    async def caller(self, uow: UnitOfWork | None = None) -> User:
        """The authenticated user, or a GraphQL error with code UNAUTHENTICATED.

        With `uow`, the token is checked in that transaction (one connection fewer per
        mutation); otherwise in a short one of its own.
        """
        if self._user is not None:
            return self._user
        cached = self.services.tokens.get(self.token)
        if cached is not None:
            self._user = cached
            if self.log_fields is not None:
                self.log_fields["caller_id"] = str(cached.id)
            return cached
        try:
            if uow is not None:
                self._user = await user_service.authenticate(uow, self.token)
                # Kept for the whole request: detached, so a rollback of this transaction
                # (a refused mutation) does not expire it for the next root field.
                uow.session.expunge(self._user)
            else:
                async with self.services.uow() as own:
                    self._user = await user_service.authenticate(own, self.token)
        except Unauthenticated as exc:
            raise unauthenticated(f"authentication required: {exc}") from None
        self.services.tokens.put(self.token, self._user)
        if self.log_fields is not None:
            self.log_fields["caller_id"] = str(self._user.id)
        return self._user
