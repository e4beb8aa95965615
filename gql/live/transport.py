"""Our graphql-transport-ws handler: subscriptions write to its socket directly, or park;
the caller found at connect is re-checked for as long as the connection stays open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from db.tasks import detached_task
from domain.tokens import hash_token
from gql.context import Context, Services, connection_token
from gql.live.direct import DirectTarget, Parked, target_var
from live.events import Viewer

log = logging.getLogger("bipa.live")
CLOSE_FORBIDDEN = 4403  # as at connect: the token is no good (clients stop)
CLOSE_TOO_MANY = 4429  # graphql-transport-ws: "too many"; the client may retry later
CLOSE_RECONNECT = 1012  # the caller changed (e.g. their role): reconnect to be decided again
MIN_RECHECK_S = 0.5


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    _parked: dict[str, Parked] | None = None

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # The operation's task runs the subscription resolver, which writes its events to
        # this socket directly, or parks the subscription (gql/live/direct.py).
        target_var.set(DirectTarget(self, operation, self.websocket.ws))  # type: ignore[attr-defined]
        await super().run_operation(operation)

    def park(self, operation_id: str, parked: Parked) -> None:
        if self._parked is None:
            self._parked = {}
        self._parked[operation_id] = parked

    def parked(self) -> list[Parked]:
        return list(self._parked.values()) if self._parked else []

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

    _counted: str | None = None  # the token hash this connection counts against

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload") if isinstance(message, dict) else None
        token_hash = hash_token(connection_token(payload if isinstance(payload, dict) else None))
        sockets = self.view.sockets  # type: ignore[attr-defined]
        first = not self.connection_init_received and self._counted is None
        if first and not sockets.take_token(token_hash):
            log.info("websocket refused: too many for one token")
            await self.websocket.close(code=CLOSE_TOO_MANY, reason="Too many connections")
            return
        if first:
            self._counted = token_hash
        await super().handle_connection_init(message)
        # The finished timeout task would otherwise stay referenced for the connection's life.
        self.connection_init_timeout_task = None
        if self.connection_acknowledged:
            self.view.callers.add(self)  # type: ignore[attr-defined]

    async def shutdown(self) -> None:
        self.view.callers.discard(self)  # type: ignore[attr-defined]
        if self._counted is not None:
            self.view.sockets.give_token(self._counted)  # type: ignore[attr-defined]
            self._counted = None
        await super().shutdown()

    async def end(self, code: int, reason: str) -> None:
        """Ends every operation first (nothing more is sent), then the connection."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(Exception):  # already gone
            await self.websocket.close(code=code, reason=reason)


class CallerWatch:
    """Re-checks the caller of every open websocket of this process, all in one query.

    A websocket's context lives as long as the connection, and its caller was found once, at
    connect: a token revoked (or a user changed) in the database since must not keep
    receiving. One timer per process, not one task per connection (an idle dashboard must
    stay cheap); it runs only while connections are open. Every `interval` seconds, half the
    token cache's lifetime, so a revoked token stops within BIPA_AUTH_CACHE seconds.
    """

    def __init__(self, services: Services) -> None:
        self.services = services
        self.interval = max(services.tokens.ttl / 2, MIN_RECHECK_S)
        self._handlers: set[TransportWSHandler] = set()
        self._timer: asyncio.Task[None] | None = None

    def add(self, handler: TransportWSHandler) -> None:
        self._handlers.add(handler)
        if self._timer is None:
            # Detached: the timer must not keep the first connection's context alive.
            self._timer = detached_task(self._run())

    def discard(self, handler: TransportWSHandler) -> None:
        self._handlers.discard(handler)

    def subscriptions(self) -> int:
        """Operations held by the open, acknowledged connections (parked ones included)."""
        return sum(len(h.operations) for h in self._handlers)

    async def _run(self) -> None:
        try:
            while self._handlers:
                await asyncio.sleep(self.interval)
                try:
                    await self.recheck()
                except Exception as exc:  # the database may be restarting: try next time
                    log.warning("caller re-check failed", extra={"error": type(exc).__name__})
        finally:
            self._timer = None

    async def recheck(self) -> None:
        await self._recheck_visibility(await self._recheck_callers())

    async def _recheck_callers(self) -> list[TransportWSHandler]:
        """Closes the connections whose caller is gone or changed; returns the others."""
        kept: list[TransportWSHandler] = []
        by_token: dict[str, list[TransportWSHandler]] = {}
        for handler in self._handlers:
            by_token.setdefault(handler.context.token, []).append(handler)
        hashes = {hash_token(token): token for token in by_token}
        async with self.services.uow() as uow:
            found = await uow.users.by_token_hashes(sorted(hashes))
        users = {hashes[token_hash]: user for token_hash, user in found.items()}
        for token, handlers in by_token.items():
            now = users.get(token)
            if now is None:
                self.services.tokens.forget(token)
                log.info("websocket closed: token no longer valid")
            else:
                self.services.tokens.put(token, now)  # read just now: fresh for HTTP too
            for handler in handlers:
                before = handler.context._user
                if now is None:
                    await handler.end(CLOSE_FORBIDDEN, "Forbidden")
                elif before is not None and (now.id, now.role) != (before.id, before.role):
                    # What its subscriptions may see was decided for the caller as they were.
                    log.info("websocket closed: caller changed", extra={"caller_id": str(now.id)})
                    await handler.end(CLOSE_RECONNECT, "Caller changed; reconnect")
                else:
                    kept.append(handler)
        return kept

    async def _recheck_visibility(self, handlers: list[TransportWSHandler]) -> None:
        """Ends (or, on a front page, drops) what a caller may no longer see: a session is
        checked at subscribe, and a deliverer removed from it in the database since must
        not keep receiving it. One query per role for every open subscription."""
        live = self.services.live
        if live is None:
            return
        followed: dict[tuple[Viewer, uuid.UUID], list[Parked]] = {}
        for handler in handlers:
            user = handler.context._user
            if user is None:
                continue
            viewer = Viewer(user.id, user.role)
            for parked in handler.parked():
                for session_id in parked.listener.following():
                    followed.setdefault((viewer, session_id), []).append(parked)
        if not followed:
            return
        visible = await live.visible(list(followed))
        for pair, parkeds in followed.items():
            if pair not in visible:
                for parked in parkeds:
                    await parked.lost(pair[1])
