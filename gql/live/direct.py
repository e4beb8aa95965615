"""Direct sends: parked subscriptions, and events written to their sockets as-is.

Through Strawberry's result stream every subscriber pays, per event, for graphql-core's map
step, the schema extensions' result hooks, a message dict and its JSON encoding; with 1,000
dashboards on one session that was five to seven times the cost of writing the bytes.

A subscription running under our graphql-transport-ws handler (gql/live/transport.py) instead
*parks* once subscribed: the resolver returns (Strawberry is told the operation is already
complete, so no `complete` is sent), which frees the operation's task, executor and extension
state; the live listener stays registered with its session's feed and, when events arrive, a
short-lived writer task sends ``{"type":"next","id":<its id>,"payload":<shared text>}``, the
shared text being built once per event for its group (gql/live/encoding.py). An idle
dashboard costs a few small objects instead of a suspended coroutine stack.

An event whose result has errors is logged and ends the subscription with an error (the
client resubscribes with afterSequence). Subscriptions on other transports (and direct calls
to `schema.subscribe`) have no target: their resolvers yield as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from graphql import OperationType
from starlette.websockets import WebSocket

from gql.live.encoding import Group, group_for
from live.events import Listener, LiveEvent, SlowSubscriber

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
            group = group_for(executor)
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

    async def lost(self, session_id: uuid.UUID) -> None:
        """The caller may no longer see the session: as if they subscribed now."""
        if self.listener.viewer is not None:  # a front page: only that session leaves it
            self.listener.unfollow(session_id)
        else:
            await self._fail("session not found", "NOT_FOUND")

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
