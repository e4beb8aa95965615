"""The execution context: per-event subscription results computed once and shared.

A dashboard's subscribers mostly send the very same document and variables, and every one of
them receives the same event object from the live feed (gql/subscriptions.py memoizes the
GraphQL payload per LiveEvent). Executing the selection set once per (document, variables,
event) instead of once per subscriber removes most of the fan-out cost. The payload types of
our subscriptions resolve from the event alone, never from the caller, so sharing is safe.

It also works around a graphql-core 3.3 growth: per-event executors share the parent's
sub-field memo, keyed by the identity of per-event lists, so a long-lived subscription kept
about 3 KB per event it ever received.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from typing import Any

from graphql import OperationType
from graphql.pyutils import is_awaitable as default_is_awaitable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql.direct import executor_var

_SHARED_RESULTS = 512
_results: OrderedDict[tuple[int, str, int], tuple[Any, Any]] = OrderedDict()


def _variables_key(variables: Any) -> str:
    try:
        return json.dumps(variables, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(variables)


class BipaExecutionContext(StrawberryGraphQLCoreExecutionContext):
    _per_event = False

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        executor._per_event = True  # type: ignore[attr-defined]
        return executor

    def build_resolve_info(self, *args: Any, **kwargs: Any) -> Any:
        if not self._per_event and self.operation.operation is OperationType.SUBSCRIPTION:
            # The subscription's own resolver runs next, in this task: it finds its executor
            # here to encode events for direct sends (gql/direct.py).
            executor_var.set(self)
        return super().build_resolve_info(*args, **kwargs)

    def execute_operation(self, serially: bool | None = None) -> Any:
        if not self._per_event:
            return super().execute_operation(serially)
        payload = self.root_value
        key = (id(self.operation), _variables_key(self.variable_values), id(payload))
        cached = _results.get(key)
        if cached is not None and cached[0] is payload:
            _results.move_to_end(key)
            return cached[1]
        result = super().execute_operation(serially)
        if default_is_awaitable(result):
            # One task, awaited by every subscriber of this (document, variables, event).
            result = asyncio.ensure_future(result)
        # The payload is kept with its result, so its id() cannot be reused while cached.
        _results[key] = (payload, result)
        if len(_results) > _SHARED_RESULTS:
            _results.popitem(last=False)
        return result
