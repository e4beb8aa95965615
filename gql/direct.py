"""Direct sends: a live event is encoded once per (document, variables) and written as-is.

Through Strawberry's result stream every subscriber pays, per event, for graphql-core's map
step, the schema extensions' result hooks, a message dict and its JSON encoding; with 1,000
dashboards on one session that was five to seven times the cost of writing the bytes. A
subscription running under our graphql-transport-ws handler (gql/view.py) instead writes
``{"type":"next","id":<its id>,"payload":<shared text>}`` to its socket itself, the shared text
being built once per event for all subscribers that sent the same document and variables.

Results with errors are not sent this way: the resolver yields them to Strawberry, which masks
and logs them as for any other result. Subscriptions on other transports (and direct calls to
`schema.subscribe`) have no target and always yield.
"""

from __future__ import annotations

import json
import weakref
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult, OperationType
from graphql.pyutils import is_awaitable
from starlette.websockets import WebSocket

from domain.events import LiveEvent


class DirectTarget:
    """The socket and operation a subscription task writes to (set by the ws handler)."""

    __slots__ = ("handler", "operation", "prefix", "websocket")

    def __init__(self, handler: Any, operation: Any, websocket: WebSocket) -> None:
        self.handler = handler
        self.operation = operation
        self.websocket = websocket
        self.prefix = '{"type":"next","id":' + json.dumps(operation.id) + ',"payload":'

    def open(self) -> bool:
        """False once the client completed the operation (no `next` may follow `complete`)."""
        operation = self.operation
        return not operation.completed and self.handler.operations.get(operation.id) is operation


target_var: ContextVar[DirectTarget | None] = ContextVar("bipa_direct_target", default=None)
executor_var: ContextVar[Any] = ContextVar("bipa_subscription_executor", default=None)

# Per event, the encoded payload of each (document, variables) group; "" marks a result with
# errors, which must go through Strawberry instead.
_texts: weakref.WeakKeyDictionary[LiveEvent, dict[tuple[int, str], str]] = (
    weakref.WeakKeyDictionary()
)


def _variables_key(variables: Any) -> str:
    try:
        return json.dumps(variables, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(variables)


class DirectStream:
    """One subscription's direct writer: shared payload texts, its own message prefix."""

    __slots__ = ("executor", "group", "target")

    def __init__(self, target: DirectTarget, executor: Any) -> None:
        self.target = target
        self.executor = executor
        self.group = (id(executor.operation), _variables_key(executor.variable_values))

    @classmethod
    def current(cls) -> DirectStream | None:
        target = target_var.get()
        executor = executor_var.get()
        if target is None or executor is None:
            return None
        if executor.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        return cls(target, executor)

    async def text(self, event: LiveEvent, payload: Any) -> str:
        texts = _texts.get(event)
        if texts is None:
            texts = _texts[event] = {}
        text = texts.get(self.group)
        if text is None:
            result = self.executor.build_per_event_executor(payload).execute_operation(False)
            if is_awaitable(result):
                result = await result
            assert isinstance(result, ExecutionResult)
            text = "" if result.errors else json.dumps({"data": result.data}, separators=(",", ":"))
            texts[self.group] = text
        return text

    async def send(self, event: LiveEvent, payload: Any) -> bool:
        """Writes the event; False when it must be yielded to Strawberry instead."""
        text = await self.text(event, payload)
        if not text:
            return False
        target = self.target
        if target.open():
            # A dead socket raises here, like Strawberry's own send would; the handler sees
            # the disconnect and cancels the operation.
            await target.websocket.send_text(target.prefix + text + "}")
        return True
