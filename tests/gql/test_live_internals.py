"""What direct sends and parking (gql/live/) rely on in Strawberry and graphql-core, which are
private parts and change without notice (pyproject.toml pins the tested minors).

When one of these fails after an upgrade, gql/live/ must be adapted before the pin moves:
each assertion says which of our modules uses what.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import graphql
import strawberry
from graphql.execution import executor as gc_executor
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.subscriptions.protocols.graphql_transport_ws import handlers as ws

from gql.live.direct import executor_var
from gql.live.encoding import group_for
from gql.live.executor import BipaExecutionContext
from gql.live.transport import TransportWSHandler
from gql.view import BipaGraphQL
from live.events import LiveEvent


def _params(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def _sets(function: Any, attribute: str) -> bool:
    """Whether `function` assigns self.<attribute> (annotated or not)."""
    source = inspect.getsource(function)
    return re.search(rf"self\.{attribute}\s*(:[^=]*)?=", source) is not None


def test_graphql_core_executor_api() -> None:
    """gql/live/encoding.py and gql/live/executor.py: per-event executors and their fields."""
    assert issubclass(StrawberryGraphQLCoreExecutionContext, gc_executor.Executor), (
        "Strawberry's execution context no longer derives from graphql-core's Executor"
    )
    base = gc_executor.Executor
    assert _params(base.build_per_event_executor) == ["self", "payload"], (
        "graphql-core Executor.build_per_event_executor(payload) changed: Group.text uses it"
    )
    assert _params(base.execute_operation)[:2] == ["self", "serially"], (
        "graphql-core Executor.execute_operation(serially) changed: Group.text calls it(False)"
    )
    assert "build_resolve_info" in vars(StrawberryGraphQLCoreExecutionContext), (
        "Strawberry no longer overrides build_resolve_info: BipaExecutionContext hooks it"
    )
    for attribute in (
        "_relevant_sub_fields",
        "operation",
        "fragment_definitions",
        "variable_values",
        "context_value",
    ):
        assert _sets(base.__init__, attribute), (
            f"graphql-core Executor no longer sets self.{attribute} (gql/live/ reads it)"
        )
    assert "coerced" in graphql.execution.values.VariableValues._fields, (
        "graphql-core VariableValues.coerced is gone: encoding._selection_variables reads it"
    )


def test_strawberry_transport_ws_handler_api() -> None:
    """gql/live/transport.py and gql/live/direct.py: the handler's hooks and state."""
    base = ws.BaseGraphQLTransportWSHandler
    assert TransportWSHandler.__mro__[1] is base
    expected = {
        "run_operation": ["self", "operation"],
        "cleanup_operation": ["self", "operation_id"],
        "handle_connection_init": ["self", "message"],
        "shutdown": ["self"],
    }
    for name, params in expected.items():
        assert _params(getattr(base, name)) == params, (
            f"Strawberry's graphql-transport-ws handler {name}{params[1:]} changed: we override it"
        )
    for attribute in (
        "operations",
        "connection_init_timeout_task",
        "connection_acknowledged",
        "websocket",
        "view",
        "context",
    ):
        assert _sets(base.__init__, attribute), f"the handler no longer sets self.{attribute}"
    assert {"completed", "query", "variables", "task", "id", "handler"} <= set(
        ws.Operation.__slots__
    ), "Strawberry's Operation lost a slot that parking sets (completed, query, variables, task)"
    shutdown = inspect.getsource(base.shutdown)
    assert "cleanup_operation" in shutdown, (
        "the handler's shutdown no longer cleans up each operation: parked ones would leak"
    )
    assert BipaGraphQL.graphql_transport_ws_handler_class is TransportWSHandler
    assert "graphql_transport_ws_handler_class" in inspect.getsource(GraphQL.run), (
        "Strawberry's view no longer builds its handler from graphql_transport_ws_handler_class"
    )


def test_asgi_websocket_adapter_keeps_the_starlette_socket_as_ws() -> None:
    """gql/live/transport.py writes to `handler.websocket.ws` (the Starlette WebSocket)."""
    socket = object()
    adapter = ASGIWebSocketAdapter(None, None, socket)  # type: ignore[arg-type]
    assert adapter.ws is socket, "ASGIWebSocketAdapter no longer keeps the socket as .ws"


async def test_a_completed_operation_sends_nothing_and_stays_registered() -> None:
    """Parking marks the operation completed: Strawberry must then skip its `complete` (the
    resolver returned) and leave it in `operations` (the id stays taken until the client
    completes it)."""
    sent: list[Any] = []

    class Handler:
        operations: dict[str, Any] = {}

        async def send_message(self, message: Any) -> None:
            sent.append(message)

        def forget_id(self, id: str) -> None:
            del self.operations[id]

    handler = Handler()
    operation = ws.Operation(handler, "1", "subscription { x }", None, None)  # type: ignore[arg-type]
    handler.operations["1"] = operation
    operation.completed = True
    await operation.send_operation_message({"id": "1", "type": "complete"})
    assert sent == [] and "1" in handler.operations, (
        "Strawberry sends `complete` for a completed operation, or forgets it: parking breaks"
    )


@strawberry.type
class Payload:
    sequence: int
    name: str


@strawberry.type
class Query:
    ok: bool = True


captured: list[Any] = []


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def ticks(self, after: int | None = None) -> AsyncGenerator[Payload, None]:
        captured.append(executor_var.get())
        yield Payload(sequence=1, name="one")


async def test_the_executor_reaches_the_resolver_and_encodes_an_event_alone() -> None:
    """BipaExecutionContext hands the subscription's executor to the resolver, and a group
    made from it encodes a payload outside Strawberry's result stream, like a direct send."""
    schema = strawberry.Schema(
        query=Query, subscription=Subscription, execution_context_class=BipaExecutionContext
    )
    captured.clear()
    doc = "subscription($after: Int, $full: Boolean!) { ticks(after: $after) { sequence name @include(if: $full) } }"
    stream = await schema.subscribe(doc, variable_values={"after": 3, "full": True})
    first = await asyncio.wait_for(anext(stream), 5)  # type: ignore[arg-type]
    assert first.data == {"ticks": {"sequence": 1, "name": "one"}}
    (executor,) = captured
    assert executor is not None, "the subscription's executor no longer reaches its resolver"
    group = group_for(executor)
    assert group.key[1] == json.dumps({"full": True}), "selection variables are read wrongly"
    event = LiveEvent(uuid.uuid4(), 7, "x", None, None, None, None, None, {}, datetime.now(UTC), {})
    text = await group.text(event, Payload(sequence=7, name="seven"))
    assert json.loads(text) == {"data": {"ticks": {"sequence": 7, "name": "seven"}}}
    assert group.executor.context_value is None
    await stream.aclose()  # type: ignore[union-attr]


def test_execution_context_keeps_the_operation_name_as_asked() -> None:
    """gql/limits.py tells "no operationName" from the fallback name Strawberry fills in."""
    from graphql import parse
    from strawberry.types import ExecutionContext

    doc = "query A { __typename } query B { __typename }"
    context = ExecutionContext(
        query=doc,
        schema=None,
        allowed_operations=(),
        provided_operation_name=None,  # type: ignore[arg-type]
    )
    context.graphql_document = parse(doc)
    assert getattr(context, "_provided_operation_name", "missing") is None, (
        "Strawberry no longer stores the operation name as asked in _provided_operation_name"
    )
    named = ExecutionContext(
        query=doc,
        schema=None,
        allowed_operations=(),
        provided_operation_name="B",  # type: ignore[arg-type]
    )
    assert named._provided_operation_name == "B"
