"""Per-request context. Holds no database session: each operation opens its own unit of work."""

from __future__ import annotations

import time
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket

from db.models import User
from domain import users as user_service
from domain.commands import Deps
from domain.errors import Unauthenticated
from domain.events import EventPublisher
from domain.jobs import ImportLimits, JobQueue
from domain.operations import Runner
from domain.proof import ProofConfig
from domain.scanning import ScanPool
from domain.tokens import hash_token
from domain.uow import ReadSnapshot, UnitOfWork
from domain.webhooks import WebhookConfig
from gql.loaders import Loaders
from gql.ratelimit import AUTH_FAILURE, RateLimits, rate_limited
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
    """What the GraphQL layer needs from the composition root (bipa/app.py).

    Commands go through `runner` (domain/operations.py), reads through `Context.read`.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    publisher: EventPublisher
    live: LiveEvents | None = None
    scanner: ScanPool | None = None
    webhooks: WebhookConfig | None = None
    production: bool = False
    currency: str = "BRL"
    tokens: TokenCache = field(default_factory=lambda: TokenCache(0))
    group_commit: bool = True
    proof: ProofConfig | None = None
    photos: ScanPool | None = None
    jobs: JobQueue | None = None
    imports: ImportLimits = field(default_factory=ImportLimits)
    # None: no rate limits (BIPA_RATE_LIMITS=false, for tests and benchmarks).
    rate: RateLimits | None = None
    runner: Runner = field(init=False)

    def __post_init__(self) -> None:
        self.runner = Runner(
            self.sessionmaker,
            self.publisher,
            currency=self.currency,
            deps=Deps(webhooks=self.webhooks, proof=self.proof),
            group_commit=self.group_commit,
        )

    def uow(self) -> UnitOfWork:
        """A unit of work to read in, outside any query snapshot (subscriptions, auth)."""
        return self.runner.uow()


def unauthenticated(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


def connection_token(payload: dict[str, Any] | None) -> str:
    """The bearer token of a graphql-transport-ws connection_init payload ("" if none)."""
    raw = (payload or {}).get("authorization") or (payload or {}).get("Authorization")
    return bearer(raw) if isinstance(raw, str) else ""


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
    # Set for the execution of an HTTP query (gql/schema.py, QuerySnapshot): every read of
    # the query sees the same moment.
    snapshot: ReadSnapshot | None = None

    @property
    def client_ip(self) -> str:
        client = self.request.client
        return client.host if client else "?"

    async def limit(self, name: str, key: str) -> None:
        """Counts one hit on the limit `name`; over it, a RATE_LIMITED error (HTTP: 429)."""
        rate = self.services.rate
        retry_after = await rate.hit(name, key) if rate is not None else None
        if retry_after is not None:
            self.request.scope.setdefault("state", {})["retry_after"] = retry_after
            raise rate_limited(retry_after)

    def read(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Where a resolver reads: the query's snapshot, or a short transaction of its own."""
        if self.snapshot is not None:
            return self.snapshot.read()
        return self.services.uow()

    @property
    def loaders(self) -> Loaders:
        """Per HTTP request (one operation); fresh each time on a long-lived websocket."""
        if isinstance(self.request, WebSocket):
            return Loaders(self.read)
        if self._loaders is None:
            self._loaders = Loaders(self.read)
        return self._loaders

    @property
    def viewer(self) -> User:
        """The caller, once authenticated by the operation's root field (nested fields)."""
        if self._user is None:
            raise unauthenticated("authentication required")
        return self._user

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
            if self.token and self.services.rate is not None:
                # A wrong token (not a missing one): guessing is limited per address.
                await self.services.rate.hit(AUTH_FAILURE, self.client_ip)
            raise unauthenticated(f"authentication required: {exc}") from None
        self.services.tokens.put(self.token, self._user)
        if self.log_fields is not None:
            self.log_fields["caller_id"] = str(self._user.id)
        return self._user
