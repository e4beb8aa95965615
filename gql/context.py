"""Per-request context. Holds no database session: each operation opens its own unit of work."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket

from db.models import User
from domain import users as user_service
from domain.errors import Unauthenticated
from domain.events import EventPublisher, LiveEvents
from domain.scanning import ScanPool
from domain.uow import UnitOfWork
from domain.webhooks import WebhookConfig
from gql.loaders import Loaders


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

    async def caller(self, uow: UnitOfWork | None = None) -> User:
        """The authenticated user, or a GraphQL error with code UNAUTHENTICATED.

        With `uow`, the token is checked in that transaction (one connection fewer per
        mutation); otherwise in a short one of its own.
        """
        if self._user is not None:
            return self._user
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
        if self.log_fields is not None:
            self.log_fields["caller_id"] = str(self._user.id)
        return self._user
