"""The Strawberry ASGI view: builds the context and authenticates websockets at connection_init."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError

import metrics
from domain import users as user_service
from domain.errors import Unauthenticated
from domain.tokens import hash_token
from gql.context import Context, Services, bearer, connection_token
from gql.live.transport import CLOSE_TOO_MANY, CallerWatch, TransportWSHandler
from gql.ratelimit import AUTH_FAILURE, HTTP_IP, HTTP_TOKEN, WS_CONNECT, rate_limited_message

log = logging.getLogger("bipa.graphql")


class SocketCaps:
    """Open websockets per client IP (from the first byte) and per token (from connect).

    One client must not hold thousands of sockets; 0 means no cap. Counted in this process:
    several processes behind one address each apply the cap on their own.
    """

    def __init__(self, *, per_token: int, per_ip: int) -> None:
        self.per_token = per_token
        self.per_ip = per_ip
        self._ips: dict[str, int] = {}
        self._tokens: dict[str, int] = {}

    @staticmethod
    def _take(counts: dict[str, int], key: str, cap: int) -> bool:
        if cap and counts.get(key, 0) >= cap:
            return False
        counts[key] = counts.get(key, 0) + 1
        return True

    @staticmethod
    def _give(counts: dict[str, int], key: str) -> None:
        left = counts.get(key, 0) - 1
        if left > 0:
            counts[key] = left
        else:
            counts.pop(key, None)

    def take_ip(self, ip: str) -> bool:
        return self._take(self._ips, ip, self.per_ip)

    def give_ip(self, ip: str) -> None:
        self._give(self._ips, ip)

    def take_token(self, token_hash: str) -> bool:
        return self._take(self._tokens, token_hash, self.per_token)

    def give_token(self, token_hash: str) -> None:
        self._give(self._tokens, token_hash)


async def _refuse_socket(websocket: WebSocket, reason: str) -> None:
    """Accepted only to be closed with a code the client can read (a refused handshake would
    be an opaque HTTP 403)."""
    offered = websocket.scope.get("subprotocols") or []
    subprotocol = "graphql-transport-ws" if "graphql-transport-ws" in offered else None
    await websocket.accept(subprotocol=subprotocol)
    await websocket.close(code=CLOSE_TOO_MANY, reason=reason)


JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def response_media_type(accept: str | None) -> str:
    """GraphQL over HTTP's negotiation: application/graphql-response+json when the client
    asks for it at least as much as for application/json; application/json otherwise (no
    Accept header, `*/*`, or a client from before the new media type)."""
    wanted = {GRAPHQL_RESPONSE: 0.0, JSON: 0.0}
    for part in (accept or "").split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if media in ("*/*", "application/*"):
            media = JSON
        if media in wanted:
            wanted[media] = max(wanted[media], quality)
    if wanted[GRAPHQL_RESPONSE] > 0 and wanted[GRAPHQL_RESPONSE] >= wanted[JSON]:
        return GRAPHQL_RESPONSE
    return JSON


def _is_request_error(result: Any) -> bool:
    """Refused before execution (syntax, validation, bounds, variables): no field ran, so no
    error has a path. A field error always has one, even when it nulls the whole `data`."""
    errors = getattr(result, "errors", None) or []
    return bool(errors) and result.data is None and all(e.path is None for e in errors)


def refusal(status: int, message: str, code: str, **extensions: Any) -> JSONResponse:
    """A request refused before GraphQL runs, still answered as GraphQL errors with a code."""
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]},
        status_code=status,
    )


def _refused(request: Request, exc: HTTPException) -> JSONResponse:
    status = exc.status_code
    allow = ""
    if request.method == "GET" and "not allowed when using GET" in exc.reason:
        status, allow = 405, "POST"  # a mutation over GET (GraphQL over HTTP)
    elif status == 405:
        allow = "GET, POST"
    elif exc.reason == "Unsupported content type":
        status = 415
    response = refusal(status, exc.reason, "BAD_REQUEST")
    if allow:
        response.headers["allow"] = allow
    return response


class BipaGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        ip = client[0] if client else "?"
        if scope["type"] == "websocket":
            retry_after = await self._connect_limited(ip)
            if retry_after is not None:
                log.info("websocket refused: rate limited")
                reason = f"Too many requests: retry in {retry_after} s"
                await _refuse_socket(WebSocket(scope, receive, send), reason)
                return
            if not self.sockets.take_ip(ip):
                log.info("websocket refused: too many from one address")
                await _refuse_socket(WebSocket(scope, receive, send), "Too many connections")
                return
            metrics.WEBSOCKETS.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                metrics.WEBSOCKETS.dec()
                self.sockets.give_ip(ip)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = response_media_type(request.headers.get("accept"))
        token = bearer(request.headers.get("authorization"))
        retry_after = await self._request_limited(ip, token)
        response: Response
        if retry_after is not None:
            message = rate_limited_message(retry_after)
            response = refusal(429, message, "RATE_LIMITED", retryAfter=retry_after)
        else:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = _refused(request, exc)
            retry_after = request.scope.get("state", {}).get("retry_after")
        if retry_after is not None:  # refused here, or by a resolver (scanBarcode)
            response.status_code = 429
            response.headers["retry-after"] = str(retry_after)
        elif media_type == GRAPHQL_RESPONSE and request.scope.get("state", {}).get(
            "graphql_request_error"
        ):
            # The new media type says what the status says: a request refused before
            # execution is a 400, whatever ran answers 200 (errors or not).
            response.status_code = 400
        if media_type == GRAPHQL_RESPONSE and response.media_type == JSON:
            response.headers["content-type"] = GRAPHQL_RESPONSE
        await response(scope, receive, send)

    async def _request_limited(self, ip: str, token: str) -> int | None:
        """Seconds to wait when this HTTP operation is over a limit (then nothing runs)."""
        rate = self.services.rate
        if rate is None:
            return None
        return (
            await rate.blocked(AUTH_FAILURE, ip)
            or await rate.hit(HTTP_IP, ip)
            or (await rate.hit(HTTP_TOKEN, hash_token(token)) if token else None)
        )

    async def _connect_limited(self, ip: str) -> int | None:
        rate = self.services.rate
        if rate is None:
            return None
        return await rate.blocked(AUTH_FAILURE, ip) or await rate.hit(WS_CONNECT, ip)

    async def process_result(self, request: Request, result: Any) -> Any:
        processed = await super().process_result(request, result)
        if _is_request_error(result):
            request.scope.setdefault("state", {})["graphql_request_error"] = True
            if response_media_type(request.headers.get("accept")) == GRAPHQL_RESPONSE:
                processed.pop("data", None)  # not executed: no `data` entry at all
        return processed

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: every file it loads is served by the app (no CDN), so it works
        offline, and it starts with the web sign-in's token."""
        if self.ide_page is None:
            return await super().render_graphql_ide(request)
        return HTMLResponse(self.ide_page.read_text(encoding="utf-8"))

    def decode_json(self, data: str | bytes) -> object:
        """A body must be one JSON object in UTF-8; anything else is the client's mistake."""
        try:
            value = json.loads(data)
        except RecursionError:
            raise HTTPException(400, "the JSON body is nested too deeply") from None
        except ValueError:  # JSONDecodeError, and UnicodeDecodeError for bytes not in UTF-8
            raise HTTPException(400, "the body is not valid JSON in UTF-8") from None
        if not isinstance(value, dict):
            raise HTTPException(400, "the body must be a JSON object") from None
        return value

    def __init__(
        self,
        schema: Any,
        services: Services,
        *,
        sockets: SocketCaps | None = None,
        ide_page: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        self.services = services
        self.ide_page = ide_page
        self.sockets = sockets or SocketCaps(per_token=0, per_ip=0)
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
        token = connection_token(context.connection_params)
        # Dashboards of one user share the cached user object (gql/context.py TokenCache).
        user = self.services.tokens.get(token)
        if user is None:
            try:
                async with self.services.uow() as uow:
                    user = await user_service.authenticate(uow, token)
            except Unauthenticated:
                if token and self.services.rate is not None:
                    await self.services.rate.hit(AUTH_FAILURE, context.client_ip)
                raise ConnectionRejectionError({"reason": "invalid or missing token"}) from None
            self.services.tokens.put(token, user)
        context._user = user
        context.token = token
        return None
