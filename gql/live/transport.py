"""Our graphql-transport-ws handler: subscriptions write to its socket directly, or park."""

from __future__ import annotations

from typing import Any

from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from gql.context import Context
from gql.live.direct import DirectTarget, Parked, target_var


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
