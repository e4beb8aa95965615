"""The schema: Query, Mutation and Subscription roots and the security extensions."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Annotated, Any

import asyncpg
import strawberry
from graphql import ASTValidationRule, GraphQLError, StringValueNode, ValidationRule
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.websockets import WebSocket
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext, Info
from strawberry.types.graphql import OperationType
from strawberry.utils.logging import StrawberryLogger

import metrics
from domain.uow import ReadSnapshot
from gql import pagination, reads
from gql.context import Context
from gql.enums import Role, SessionStatus
from gql.jobs import JobQueries
from gql.limits import Bounds, DocumentLimits
from gql.live.executor import BipaExecutionContext
from gql.mutations import Mutation
from gql.scalars import DecimalScalar
from gql.subscriptions import Subscription
from gql.types import (
    DeliverySessionType,
    PackageType,
    SessionConnection,
    UserConnection,
    UserType,
    user_type,
)
from gql.webhooks import WebhookQueries

log = logging.getLogger("bipa.graphql")


@strawberry.type(
    description="Reads. Every one sees only what the caller may (their sessions, their "
    "webhooks) and reads in one snapshot; a thing not visible reads as null."
)
class Query(WebhookQueries, JobQueries):
    @strawberry.field(description="The authenticated caller.")
    async def me(self, info: Info[Context, None]) -> UserType:
        return user_type(await info.context.caller())

    @strawberry.field(description="Null when missing or not visible to the caller.")
    async def session(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The session's id.")],
    ) -> DeliverySessionType | None:
        return await reads.session_by_id(info, id)

    @strawberry.field(
        description="The sessions the caller may see (an admin: all; a manager: their own; "
        "a deliverer: those they were added to), newest first; ARCHIVED ones only when asked "
        "by status."
    )
    async def sessions(
        self,
        info: Info[Context, None],
        status: Annotated[
            SessionStatus | None,
            strawberry.argument(description="Only sessions in this status (ARCHIVED included)."),
        ] = None,
        owner_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="Only sessions this user owns; an unknown id gives an empty page."
            ),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size (0-1000).")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Sessions after this cursor.")
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page size going backward from the oldest session or `before` "
                "(0-1000); takes precedence over `first`/`after`."
            ),
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Sessions before this cursor.")
        ] = None,
    ) -> SessionConnection:
        window = pagination.time_window(first, after, last, before, "ses", 50)
        return await reads.list_sessions(info, status, owner_id, window)

    @strawberry.field(
        description="Users by name (then id), for a manager choosing deliverers: names, roles "
        "and whether Telegram is linked, nothing more. Managers and admins only: anyone else "
        "gets an empty page."
    )
    async def users(
        self,
        info: Info[Context, None],
        role: Annotated[
            Role | None, strawberry.argument(description="Only users of this role.")
        ] = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only users whose name contains this text, case and accents "
                "aside; blank means no filter."
            ),
        ] = None,
        first: Annotated[int | None, strawberry.argument(description="Page size (0-1000).")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Users after this cursor.")
        ] = None,
        last: Annotated[
            int | None,
            strawberry.argument(
                description="Page size going backward from the end of the list or `before` "
                "(0-1000); takes precedence over `first`/`after`."
            ),
        ] = None,
        before: Annotated[
            str | None, strawberry.argument(description="Users before this cursor.")
        ] = None,
    ) -> UserConnection:
        window = pagination.name_window(first, after, last, before, "usr", 50)
        return await reads.list_users(info, role, search, window)

    @strawberry.field(
        description="A package of a session by its code; null when the session is not "
        "visible or holds no such package."
    )
    async def package(
        self,
        info: Info[Context, None],
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The session's id.")],
        barcode: Annotated[
            str,
            strawberry.argument(
                description="The code as read or typed: made canonical first, so a label's "
                "QR text finds the package of its Code 128."
            ),
        ],
    ) -> PackageType | None:
        return await reads.package_by_barcode(info, session_id, barcode)


class OperationLog(SchemaExtension):
    """Puts the operation name in the request's log fields."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        fields = getattr(context, "log_fields", None)
        if fields is not None:
            fields["operation"] = self.execution_context.operation_name or "anonymous"


class QuerySnapshot(SchemaExtension):
    """An HTTP query reads in one snapshot (domain/uow.py, ReadSnapshot), closed after it.

    Only queries: a mutation's answer must show what it committed (a snapshot taken before a
    later root field's commit would not), and a websocket's context outlives operations.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if ec.operation_type is not OperationType.QUERY or not isinstance(context, Context):
            yield
            return
        if isinstance(context.request, WebSocket):
            yield
            return
        context.snapshot = ReadSnapshot(context.services.sessionmaker)
        try:
            yield
        finally:
            snapshot, context.snapshot = context.snapshot, None
            await snapshot.close()


# PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (a JSON "\\ud800" escape) is
# no character at all: the driver fails to encode either, deep inside a transaction.
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
UNSAFE_TEXT = "text must not contain NUL (\\u0000) or lone surrogate (\\ud800-\\udfff) characters"


def _has_unsafe_text(value: object) -> bool:
    stack = [value]
    while stack:  # iterative: variables may nest deeply
        current = stack.pop()
        if isinstance(current, str):
            if _UNSAFE.search(current):
                return True
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, (list, tuple)):
            stack.extend(current)
    return False


class NoUnsafeTextInLiterals(ValidationRule):
    """A validation rule, so the check is cached with the rest of validation per document."""

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if _UNSAFE.search(node.value):
            self.report_error(
                GraphQLError(UNSAFE_TEXT, node, extensions={"code": "BAD_USER_INPUT"})
            )


class RejectUnsafeText(SchemaExtension):
    """Such variables are refused as a malformed request, up front, before any SQL."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if _has_unsafe_text(ec.variables) or _has_unsafe_text(ec.operation_name):
            error = GraphQLError(UNSAFE_TEXT, extensions={"code": "BAD_USER_INPUT"})
            ec.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


_INTERNAL_CODES = frozenset({"INTERNAL_SERVER_ERROR", "INTERNAL", "SERVICE_UNAVAILABLE"})


def _unavailable(error: BaseException | None) -> bool:
    """The database (or another service we need) cannot be reached right now."""
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, (OSError, asyncpg.PostgresConnectionError, TimeoutError)):
            return True
        if isinstance(error, asyncpg.InterfaceError) and "connection" in str(error):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
        seen += 1
    return False


def error_code(error: GraphQLError) -> str:
    """The `extensions.code` every error carries: ours when we raised it on purpose,
    graphql-core's refusals (variables, validation) as the client's, a service that is down
    as SERVICE_UNAVAILABLE, anything else INTERNAL_SERVER_ERROR."""
    code = (error.extensions or {}).get("code")
    if isinstance(code, str):
        return code
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return (
            "BAD_USER_INPUT"
            if error.message.startswith("Variable ")
            else ("GRAPHQL_VALIDATION_FAILED")
        )
    return "SERVICE_UNAVAILABLE" if _unavailable(original) else "INTERNAL_SERVER_ERROR"


def is_client_error(error: GraphQLError) -> bool:
    """True when the request is at fault (bad syntax, variable, cursor, token...), not our code.

    graphql-core's own refusals (syntax, validation, variable coercion) carry no original error
    or a GraphQLError of its own; errors we raise on purpose carry an `extensions.code`.
    Anything else escaped a resolver: a bug.
    """
    code = (error.extensions or {}).get("code")
    if code is not None:
        return code not in _INTERNAL_CODES
    return error.original_error is None or isinstance(error.original_error, GraphQLError)


class BipaSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            code = error_code(error)
            error.extensions = {**(error.extensions or {}), "code": code}
            metrics.ERRORS.labels(code).inc()
            if code == "SERVICE_UNAVAILABLE":
                # The operator's to fix, and said once by /healthz too: no traceback per request.
                log.warning("graphql request failed: service unavailable")
            elif is_client_error(error):
                # The client's mistake is routine for us: one line, no traceback, not an ERROR.
                log.info(
                    "graphql request refused",
                    extra={
                        "error": error.message[:200],
                        "code": (error.extensions or {}).get("code"),
                    },
                )
            else:
                StrawberryLogger.error(error, execution_context)


def _visible(error: GraphQLError) -> bool:
    """True masks the error: in production only bugs lose their text, never client errors."""
    return not is_client_error(error)


class CodedMaskErrors(MaskErrors):
    """A masked error keeps its code (INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE), only its
    text and its origin are hidden."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": error_code(error)}
        return masked


_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


class HideSuggestions(SchemaExtension):
    """Production: "Did you mean ...?" would reveal the schema that introspection hides."""

    def on_operation(self) -> Iterator[None]:
        yield
        ec = self.execution_context
        errors = list(ec.pre_execution_errors or [])
        if ec.result is not None and ec.result.errors:
            errors.extend(ec.result.errors)
        for error in errors:
            error.message = _SUGGESTION.sub("", error.message)


# Connection fields and the page size they return when `first` is not given.
PAGE_DEFAULTS = {"sessions": 50, "packages": 100, "audit": 100, "deliveries": 50, "users": 50}


@functools.lru_cache(maxsize=256)
def _validate(schema: Any, document: Any, rules: tuple[Any, ...]) -> list[GraphQLError]:
    # Keyed by the parsed document, which the parser cache hands out again for the same text.
    return validate_document(schema, document, rules)


def extensions(
    *,
    production: bool,
    max_depth: int,
    max_aliases: int,
    max_tokens: int,
    max_nodes: int = 100_000,
) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    # The rule classes are made once: the validation cache is keyed by them.
    rules: list[type[ASTValidationRule]] = [NoUnsafeTextInLiterals]
    bounds = Bounds(max_depth=max_depth, max_aliases=max_aliases, max_nodes=max_nodes)
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    result: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        OperationLog,
        RejectUnsafeText,
        QuerySnapshot,
        lambda: AddValidationRules(rules),
        # In place of Strawberry's ParserCache, MaxTokensLimiter, depth/alias validators and
        # ValidationCache: cached parsing, linear bounds, then graphql-core's rules (cached),
        # which never see an unbounded document.
        lambda: DocumentLimits(
            bounds=bounds, max_tokens=max_tokens, page_defaults=PAGE_DEFAULTS, validate=_validate
        ),
    ]
    if production:
        result.append(HideSuggestions)
        result.append(lambda: CodedMaskErrors(should_mask_error=_visible))
    return result


def build_schema(
    *,
    production: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    max_nodes: int = 100_000,
) -> strawberry.Schema:
    config = StrawberryConfig(
        disable_field_suggestions=production, scalar_map={Decimal: DecimalScalar}
    )
    return BipaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions(
            production=production,
            max_depth=max_depth,
            max_aliases=max_aliases,
            max_tokens=max_tokens,
            max_nodes=max_nodes,
        ),
        config=config,
        execution_context_class=BipaExecutionContext,
    )
