"""Bounds on a document, computed in linear time: depth, aliases, fragment chains and nodes.

Strawberry's depth and alias validators walk every fragment spread again each time it is
used, so fragments that each spread the next one twice make them exponential (one request of
under 1 KB held a worker for seconds). Here every fragment is measured once, in dependency
order and without recursion, and what a spread costs is looked up; a document over a bound is
refused before graphql-core's own rules (some of which recurse along fragment chains) see it.

The node limit counts what a query may return, like the node limits of large public GraphQL
APIs: a connection field's `first` (or its default) multiplies everything below it.
"""

from __future__ import annotations

import functools
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

# A field whose `first` is a variable not given counts as a full page.
FULL_PAGE = 1000
# Longest chain of fragment spreads (A spreads B spreads C ...): deeper chains are only ever
# written to attack, and graphql-core's own rules recurse along them.
MAX_FRAGMENT_CHAIN = 20


@dataclass(frozen=True)
class Measure:
    """What one selection set (with its fragments) amounts to."""

    depth: int
    aliases: int
    # Fields once every fragment is expanded, and the most times one response name stands in
    # one selection set: graphql-core's overlapping-fields rule compares such fields pairwise,
    # so 1,000 copies of `me { id }` (under 5,000 tokens) cost it about a second.
    fields: int = 0
    repeats: int = 0
    names: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Bounds:
    max_depth: int
    max_aliases: int
    max_nodes: int
    max_fields: int = 2_000
    max_repeats: int = 10


def too_complex(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX"})


def _spreads(selection_set: SelectionSetNode | None) -> Iterator[str]:
    """The fragment names spread anywhere inside, without recursion."""
    stack = [selection_set]
    while stack:
        current = stack.pop()
        if current is None:
            continue
        for selection in current.selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, (FieldNode, InlineFragmentNode)):
                stack.append(selection.selection_set)


def _fragment_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragments so that each comes after every fragment it spreads; raises on cycles and on
    chains longer than MAX_FRAGMENT_CHAIN."""
    uses = {
        name: set(_spreads(f.selection_set)) & fragments.keys() for name, f in fragments.items()
    }
    order: list[str] = []
    chain: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    for root in fragments:
        if root in state:
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(uses[root])))]
        state[root] = 1
        while stack:
            name, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                stack.pop()
                state[name] = 2
                chain[name] = 1 + max((chain[c] for c in uses[name]), default=0)
                if chain[name] > MAX_FRAGMENT_CHAIN:
                    raise too_complex(f"fragment spreads nest more than {MAX_FRAGMENT_CHAIN} deep")
                order.append(name)
            elif state.get(child) == 1:
                raise GraphQLError(
                    f"fragment {child} spreads itself",
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(sorted(uses[child]))))
    return order


def _measure(selection_set: SelectionSetNode | None, known: Mapping[str, Measure]) -> Measure:
    """Depth (nested fields with selections, as Strawberry counts it), aliases, expanded
    fields and repeated response names, with each fragment spread looked up in `known`.
    Recurses along field nesting only, which the parser has already bounded."""
    if selection_set is None:
        return Measure(0, 0)
    depth = aliases = fields = repeats = 0
    names: Counter[str] = Counter()
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields += 1
            names[(selection.alias or selection.name).value] += 1
            if selection.alias is not None:
                aliases += 1
            if selection.name.value.startswith("__"):
                continue  # introspection's depth is bounded by the schema: not counted
            inner = _measure(selection.selection_set, known)
            aliases += inner.aliases
            fields += inner.fields
            repeats = max(repeats, inner.repeats)
            if selection.selection_set is not None:
                depth = max(depth, 1 + inner.depth)
            continue
        if isinstance(selection, InlineFragmentNode):
            inner = _measure(selection.selection_set, known)
        elif isinstance(selection, FragmentSpreadNode):
            inner = known.get(selection.name.value, Measure(0, 0))
        else:
            continue
        depth, aliases = max(depth, inner.depth), aliases + inner.aliases
        fields += inner.fields
        repeats = max(repeats, inner.repeats)
        names.update(inner.names)
    repeats = max(repeats, max(names.values(), default=0))
    return Measure(depth, aliases, fields, repeats, names)


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


_checked: weakref.WeakKeyDictionary[DocumentNode, GraphQLError | None] = weakref.WeakKeyDictionary()


def check_shape(document: DocumentNode, bounds: Bounds) -> GraphQLError | None:
    """The first bound the document breaks (depth, aliases, fragment chains), or None.

    Memoised per parsed document: the parser cache hands out the same object for the same text.
    """
    if document in _checked:
        return _checked[document]
    error = _check_shape(document, bounds)
    _checked[document] = error
    return error


def _check_shape(document: DocumentNode, bounds: Bounds) -> GraphQLError | None:
    fragments = _fragments(document)
    try:
        order = _fragment_order(fragments)
    except GraphQLError as error:
        return error
    known: dict[str, Measure] = {}
    for name in order:
        known[name] = _measure(fragments[name].selection_set, known)
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        measure = _measure(definition.selection_set, known)
        name = definition.name.value if definition.name else "anonymous"
        if measure.depth > bounds.max_depth:
            return too_complex(f"'{name}' exceeds maximum operation depth of {bounds.max_depth}")
        if measure.aliases > bounds.max_aliases:
            return too_complex(f"{measure.aliases} aliases found. Allowed: {bounds.max_aliases}")
        if measure.fields > bounds.max_fields:
            return too_complex(f"more than {bounds.max_fields} fields once fragments are expanded")
        if measure.repeats > bounds.max_repeats:
            return too_complex(
                f"one field is selected more than {bounds.max_repeats} times in one place"
            )
    return None


def count_nodes(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, object] | None,
    page_defaults: Mapping[str, int],
    limit: int,
) -> int:
    """Nodes the operation may return: each connection field (one with a `first`) counts its
    page size times one plus what is below it. Stops counting past `limit`."""
    fragments = _fragments(document)
    order = _fragment_order(fragments)  # check_shape ran first: no cycle, bounded chains
    known: dict[str, int] = {}

    def page(field: FieldNode) -> int | None:
        # `last` pages backward with the same sizes: the larger of the two counts.
        sizes: list[int] = []
        for argument in field.arguments or ():
            if argument.name.value not in ("first", "last"):
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                sizes.append(int(value.value))
            elif isinstance(value, VariableNode):
                given = (variables or {}).get(value.name.value)
                if given is not None:
                    sizes.append(given if isinstance(given, int) else FULL_PAGE)
            elif not isinstance(value, NullValueNode):
                sizes.append(FULL_PAGE)
        default = page_defaults.get(field.name.value)
        if not sizes:
            return default
        return max(sizes)

    def nodes(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below = nodes(selection.selection_set)
                size = page(selection)
                total += size * (1 + below) if size is not None else below
            elif isinstance(selection, InlineFragmentNode):
                total += nodes(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += known.get(selection.name.value, 0)
            if total > limit:
                return limit + 1
        return total

    for name in order:
        known[name] = nodes(fragments[name].selection_set)
    return nodes(operation.selection_set)


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _chosen(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    for operation in _operations(document):
        if name is None or (operation.name is not None and operation.name.value == name):
            return operation
    return None


@functools.lru_cache(maxsize=256)
def _parse(query: str, max_tokens: int) -> DocumentNode:
    # Dashboards and scanners send the same few documents again and again; the same text gets
    # the same document object, which keys the shape memo and the validation cache.
    return parse(query, max_tokens=max_tokens)


def parse_bounded(query: str, max_tokens: int) -> DocumentNode:
    """Parsed with a token cap; every failure a coded client error. A document nested past
    Python's recursion limit is refused as too complex, not in the interpreter's own words."""
    try:
        return _parse(query, max_tokens)
    except RecursionError:
        raise too_complex("the document is nested too deeply") from None
    except GraphQLError as error:
        # graphql-core's own caps: the token count, and its parser's nesting depth.
        capped = "more than" in error.message or "nested too deeply" in error.message
        code = "QUERY_TOO_COMPLEX" if capped else "GRAPHQL_PARSE_FAILED"
        error.extensions = {**(error.extensions or {}), "code": code}
        raise


class DocumentLimits(SchemaExtension):
    """Parsing (cached, token-capped), bounds checked before graphql-core validates, then
    validation cached per document: one place for what a document may cost."""

    def __init__(
        self,
        *,
        bounds: Bounds,
        max_tokens: int,
        page_defaults: Mapping[str, int],
        validate: Callable[[Any, DocumentNode, tuple[Any, ...]], list[GraphQLError]],
    ) -> None:
        super().__init__()
        self.bounds = bounds
        self.max_tokens = max_tokens
        self.page_defaults = page_defaults
        self.validate = validate

    def on_parse(self) -> Iterator[None]:
        ec = self.execution_context
        if ec.graphql_document is None and ec.query:
            ec.graphql_document = parse_bounded(ec.query, self.max_tokens)
        yield

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        if document is not None:
            error = check_shape(document, self.bounds)
            # ExecutionContext.operation_name falls back to the first operation's name: the spec
            # wants an error instead when several operations come without a name.
            # (a Strawberry internal, checked by tests/gql/test_live_internals.py)
            asked = getattr(ec, "_provided_operation_name", None)
            if error is None and asked is None and len(_operations(document)) > 1:
                error = GraphQLError(
                    "Must provide operation name if query contains multiple operations.",
                    extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            if error is not None:
                ec.pre_execution_errors = [error]
            else:
                errors = self.validate(ec.schema._schema, document, tuple(ec.validation_rules))
                for e in errors:
                    e.extensions = {"code": "GRAPHQL_VALIDATION_FAILED", **(e.extensions or {})}
                ec.pre_execution_errors = errors
        yield

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        document = ec.graphql_document
        operation = _chosen(document, ec.operation_name) if document is not None else None
        if document is not None and operation is not None and ec.result is None:
            limit = self.bounds.max_nodes
            nodes = count_nodes(document, operation, ec.variables, self.page_defaults, limit)
            if nodes > limit:
                error = too_complex(f"the query may return more than {limit} nodes")
                ec.result = GraphQLExecutionResult(data=None, errors=[error])
        yield
