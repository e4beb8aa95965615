"""The execution context of the schema.

It hands a subscription's executor to its resolver (gql/live/encoding.py encodes each live event
once per group with it), and works around a graphql-core 3.3 growth: per-event executors
share the parent's sub-field memo, keyed by the identity of per-event lists, so a long-lived
subscription kept about 3 KB per event it ever received.
"""

from __future__ import annotations

from typing import Any

from graphql import OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gql.live.direct import executor_var


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
            # here to encode events for direct sends (gql/live/direct.py).
            executor_var.set(self)
        return super().build_resolve_info(*args, **kwargs)
