"""The Strawberry ASGI view: builds the context and authenticates websockets at connection_init."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

from domain import users as user_service
from domain.errors import Unauthenticated
from gql.context import Context, Services, bearer
from gql.live.transport import CallerWatch, TransportWSHandler


class BipaGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, schema: Any, services: Services, **kwargs: Any) -> None:
        super().__init__(schema, **kwargs)
        self.services = services
        self.callers = CallerWatch(services)

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
