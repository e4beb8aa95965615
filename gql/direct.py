"""Direct sends: a live event is encoded once per (document, variables) and written as-is.

Through Strawberry's result stream every subscriber pays, per event, for graphql-core's map
step, the schema extensions' result hooks, a message dict and its JSON encoding; with 1,000
dashboards on one session that was five to seven times the cost of writing the bytes.

A subscription running under our graphql-transport-ws handler (gql/view.py) instead *parks*
once subscribed: the resolver returns (Strawberry is told the operation is already complete,
so no `complete` is sent), which frees the operation's task, executor and extension state; the
live listener stays registered with its session's feed and, when events arrive, a short-lived
writer task sends ``{"type":"next","id":<its id>,"payload":<shared text>}``, the shared text
being built once per event for all subscribers that sent the same document and selection
variables. An idle dashboard costs a few small objects instead of a suspended coroutine stack.

An event whose result has errors is logged and ends the subscription with an error (the
client resubscribes with afterSequence). Subscriptions on other transports (and direct calls
to `schema.subscribe`) have no target: their resolvers yield as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from graphql import ExecutionResult, Node, OperationType, VariableNode
from graphql.pyutils import is_awaitable
from starlette.websockets import WebSocket

from domain.events import Listener, LiveEvent, SlowSubscriber

log = logging.getLogger("bipa.live")


class DirectTarget:
    """The socket and operation a subscription task writes to (set by the ws handler)."""

    __slots__ = ("handler", "operation", "parked", "prefix", "websocket")

    def __init__(self, handler: Any, operation: Any, websocket: WebSocket) -> None:
        self.handler = handler
        self.operation = operation
        self.websocket = websocket
        self.prefix = '{"type":"next","id":' + json.dumps(operation.id) + ',"payload":'
        self.parked: Parked | None = None

    def open(self) -> bool:
        """False once the client completed the operation (no `next` may follow `complete`)."""
        operation = self.operation
        if self.handler.operations.get(operation.id) is not operation:
            return False
        return self.parked is not None or not operation.completed


# What a parked subscription sends for a batch of new events: (event, payload) pairs, the
# payload being what the resolver would have yielded for it.
Pick = Callable[[list[LiveEvent]], list[tuple[LiveEvent, Any]]]

target_var: ContextVar[DirectTarget | None] = ContextVar("bipa_direct_target", default=None)
executor_var: ContextVar[Any] = ContextVar("bipa_subscription_executor", default=None)

# Per event, the encoded payload of each group; "" marks a result with errors.
_texts: weakref.WeakKeyDictionary[LiveEvent, dict[tuple[int, str], str]] = (
    weakref.WeakKeyDictionary()
)


def _variables_key(variables: Any) -> str:
    try:
        return json.dumps(variables, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(variables)


class Group:
    """The subscribers that sent one document with the same selection variables.

    It keeps a copy of the first subscriber's executor, without its context (the payload types
    resolve from the event alone, never from the caller), to encode each event once for all of
    them. Its key holds the id of the document's operation node, which the executor keeps
    alive, so ids cannot collide.
    """

    __slots__ = ("__weakref__", "executor", "key")

    def __init__(self, executor: Any, key: tuple[int, str]) -> None:
        executor = copy.copy(executor)
        executor.context_value = None  # not the first subscriber's connection, once it is gone
        self.executor = executor
        self.key = key

    async def text(self, event: LiveEvent, payload: Any) -> str:
        texts = _texts.get(event)
        if texts is None:
            texts = _texts[event] = {}
        text = texts.get(self.key)
        if text is None:
            result = self.executor.build_per_event_executor(payload).execute_operation(False)
            if is_awaitable(result):
                result = await result
            assert isinstance(result, ExecutionResult)
            if result.errors:
                text = ""
                for error in result.errors:
                    log.error(
                        "subscription event could not be encoded: %s",
                        error.message,
                        exc_info=error.original_error,
                        extra={"sequence": event.sequence},
                    )
            else:
                text = json.dumps({"data": result.data}, separators=(",", ":"))
            texts[self.key] = text
        return text


_groups: weakref.WeakValueDictionary[tuple[int, str], Group] = weakref.WeakValueDictionary()


def _variables_in(node: Any, names: set[str]) -> None:
    if isinstance(node, VariableNode):
        names.add(node.name.value)
        return
    for key in node.keys:
        value = getattr(node, key, None)
        if isinstance(value, Node):
            _variables_in(value, names)
        elif isinstance(value, tuple | list):
            for item in value:
                if isinstance(item, Node):
                    _variables_in(item, names)


def _selection_variables(executor: Any) -> dict[str, Any]:
    """The variables the payload can depend on: those used below the root field or in its
    directives, not those that only choose the events (`sessionId`, `afterSequence`)."""
    found: set[str] = set()
    for selection in executor.operation.selection_set.selections:
        for directive in selection.directives or ():
            _variables_in(directive, found)
        if getattr(selection, "selection_set", None) is not None:
            _variables_in(selection.selection_set, found)
    for fragment in executor.fragment_definitions.values():
        _variables_in(fragment, found)
    values = executor.variable_values.coerced
    return {name: values.get(name) for name in sorted(found)}


def _group(executor: Any) -> Group:
    key = (id(executor.operation), _variables_key(_selection_variables(executor)))
    group = _groups.get(key)
    if group is None:
        group = _groups[key] = Group(executor, key)
    return group


class DirectStream:
    """What a subscription needs to park: its socket and operation, and its group."""

    __slots__ = ("group", "target")

    def __init__(self, target: DirectTarget, group: Group) -> None:
        self.target = target
        self.group = group

    @classmethod
    def current(cls) -> DirectStream | None:
        target = target_var.get()
        executor = executor_var.get()
        if target is None or executor is None:
            return None
        if executor.operation.operation is not OperationType.SUBSCRIPTION:
            return None
        try:
            group = _group(executor)
        except Exception:  # never fail a subscription over an optimization: it just yields
            log.exception("direct sends unavailable for this subscription")
            return None
        return cls(target, group)

    def park(self, listener: Listener, pick: Pick) -> bool:
        """Hands the subscription over to its listener; the resolver must return next."""
        target = self.target
        if not target.open():
            return False
        parked = Parked(target, self.group, listener, pick)
        target.parked = parked
        operation = target.operation
        # Strawberry skips `complete` for a completed operation and keeps it registered, so
        # the id stays taken and a client `complete` (or the disconnect) reaches unpark().
        operation.completed = True
        # What the finished task would keep alive for the connection's lifetime: the query,
        # the task itself and, through its context, the executor (Group keeps one per group).
        operation.query = ""
        operation.variables = None
        operation.task = None
        target_var.set(None)
        executor_var.set(None)
        target.handler.park(operation.id, parked)
        listener.park(parked.wake)
        return True


class Parked:
    """A parked subscription: no task while idle; a writer task while there is something."""

    __slots__ = ("group", "listener", "pick", "target", "writer")

    def __init__(
        self,
        target: DirectTarget,
        group: Group,
        listener: Listener,
        pick: Pick,
    ) -> None:
        self.target = target
        self.group = group
        self.listener = listener
        self.pick = pick
        self.writer: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if self.writer is None:
            self.writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            while True:
                try:
                    events = await self.listener.next_batch(wait=False)
                except SlowSubscriber as exc:
                    await self._fail(str(exc), "SLOW_SUBSCRIBER")
                    return
                if not events:
                    return
                target = self.target
                for event, payload in self.pick(events):
                    text = await self.group.text(event, payload)
                    if not target.open():
                        return
                    if not text:
                        await self._fail(
                            "this event could not be sent; subscribe again with afterSequence",
                            "INTERNAL_SERVER_ERROR",
                        )
                        return
                    await target.websocket.send_text(target.prefix + text + "}")
        except Exception as exc:
            # Most often the socket went away (the handler's cleanup follows); otherwise, e.g.
            # a failed read of missing entries, the client is told to resume.
            log.warning("parked subscription stopped", extra={"error": type(exc).__name__})
            with contextlib.suppress(Exception):
                await self._fail(
                    "live events interrupted; subscribe again with afterSequence",
                    "INTERNAL_SERVER_ERROR",
                )
            self.close()
        finally:
            self.writer = None

    async def _fail(self, message: str, code: str) -> None:
        """As Strawberry ends a subscription whose resolver raised: the error, then complete."""
        target = self.target
        op_id = target.operation.id
        self.close()
        if target.handler.operations.pop(op_id, None) is None:
            return
        target.handler.unpark(op_id)
        payload = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
        await target.websocket.send_text(
            json.dumps({"type": "next", "id": op_id, "payload": payload})
        )
        await target.websocket.send_text(json.dumps({"type": "complete", "id": op_id}))

    def close(self) -> None:
        self.listener.close()
        writer = self.writer
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
