"""The Strawberry ASGI view: builds the context and authenticates websockets at connection_init."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from domain import users as user_service
from domain.errors import Unauthenticated
from gql.context import Context, Services, bearer
from gql.direct import DirectTarget, Parked, target_var


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    _parked: dict[str, Parked] | None = None

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # The operation's task runs the subscription resolver, which writes its events to
        # this socket directly, or parks the subscription (gql/direct.py).
        target_var.set(DirectTarget(self, operation, self.websocket.ws))  # type: ignore[attr-defined]
        await super().run_operation(operation)

    def park(self, operation_id: str, parked: Parked) -> None:
        if self._parked is None:
            self._parked = {}
        self._parked[operation_id] = parked

    def unpark(self, operation_id: str) -> Parked | None:
        return self._parked.pop(operation_id, None) if self._parked else None

    async def cleanup_operation(self, operation_id: str) -> None:
        # A client `complete`, or the connection's end, for a parked subscription too (its
        # task has ended and is no longer referenced, so there is nothing to cancel).
        parked = self.unpark(operation_id)
        if parked is not None:
            parked.close()
            self.operations.pop(operation_id, None)
            return
        await super().cleanup_operation(operation_id)

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        # The finished timeout task would otherwise stay referenced for the connection's life.
        self.connection_init_timeout_task = None


class BipaGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, schema: Any, services: Services, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        log_fields = request.scope.get("state", {}).get("log_fields")
        token = ""
        if isinstance(request, Request):
            token = bearer(request.headers.get("authorization"))
        return Context(request=request, services=self.services, token=token, log_fields=log_fields)

    async def on_ws_connect(self, context: Context) -> Any:
        """Token from the connection_init payload; a bad one closes the socket with 4403."""
        payload = context.connection_params or {}
        raw = payload.get("authorization") or payload.get("Authorization")
        token = bearer(raw) if isinstance(raw, str) else ""
        # Dashboards of one user share the cached user object (gql/context.py TokenCache).
        user = self.services.tokens.get(token)
        if user is None:
            try:
                async with self.services.uow() as uow:
                    user = await user_service.authenticate(uow, token)
            except Unauthenticated:
                raise ConnectionRejectionError({"reason": "invalid or missing token"}) from None
            self.services.tokens.put(token, user)
        context._user = user
        context.token = token
        return None
