"""Shared encoding: a live event is executed and JSON-encoded once per group of subscribers.

A group is the subscribers that sent one document with the same selection variables; our
subscription payloads resolve from the event alone, never from the caller, so they all get
the same bytes (gql/live/direct.py splices each operation id in).
"""

from __future__ import annotations

import copy
import json
import logging
import weakref
from typing import Any

from graphql import ExecutionResult, Node, VariableNode
from graphql.pyutils import is_awaitable

from live.events import LiveEvent

log = logging.getLogger("bipa.live")


def _variables_key(variables: Any) -> str:
    try:
        return json.dumps(variables, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(variables)


# Per event, the encoded payload of each group; "" marks a result with errors.
_texts: weakref.WeakKeyDictionary[LiveEvent, dict[tuple[int, str], str]] = (
    weakref.WeakKeyDictionary()
)


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


def group_for(executor: Any) -> Group:
    key = (id(executor.operation), _variables_key(_selection_variables(executor)))
    group = _groups.get(key)
    if group is None:
        group = _groups[key] = Group(executor, key)
    return group
