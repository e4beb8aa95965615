"""The schema: Query, Mutation and Subscription roots and the security extensions."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal

import strawberry
from graphql import ASTValidationRule, GraphQLError, StringValueNode, ValidationRule
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.validation import NoSchemaIntrospectionCustomRule
from starlette.websockets import WebSocket
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_validator
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info
from strawberry.types.graphql import OperationType
from strawberry.utils.logging import StrawberryLogger

from domain.uow import ReadSnapshot
from gql import reads
from gql.context import Context
from gql.live.executor import BipaExecutionContext
from gql.mutations import Mutation
from gql.scalars import DecimalScalar
from gql.subscriptions import Subscription
from gql.types import (
    DeliverySessionType,
    PackageType,
    SessionConnection,
    SessionStatus,
    UserType,
    user_type,
)
from gql.webhooks import WebhookQueries

log = logging.getLogger("bipa.graphql")


@strawberry.type
class Query(WebhookQueries):
    @strawberry.field(description="The authenticated caller.")
    async def me(self, info: Info[Context, None]) -> UserType:
        return user_type(await info.context.caller())

    @strawberry.field(description="Null when missing or not visible to the caller.")
    async def session(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> DeliverySessionType | None:
        return await reads.session_by_id(info, id)

    @strawberry.field(description="Newest first; ARCHIVED ones only when asked by status.")
    async def sessions(
        self,
        info: Info[Context, None],
        status: SessionStatus | None = None,
        owner_id: strawberry.ID | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> SessionConnection:
        return await reads.list_sessions(info, status, owner_id, first, after)

    @strawberry.field
    async def package(
        self, info: Info[Context, None], session_id: strawberry.ID, barcode: str
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


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


class NoNulInLiterals(ValidationRule):
    """A validation rule, so the check is cached with the rest of validation per document."""

    def enter_string_value(self, node: StringValueNode, *_: object) -> None:
        if "\x00" in node.value:
            self.report_error(
                GraphQLError(
                    "text must not contain NUL (\\u0000) characters",
                    node,
                    extensions={"code": "BAD_USER_INPUT"},
                )
            )


class RejectNulCharacters(SchemaExtension):
    """PostgreSQL text cannot hold NUL: refuse such variables as a malformed request, up front."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        if _has_nul(ec.variables):
            error = GraphQLError(
                "text must not contain NUL (\\u0000) characters",
                extensions={"code": "BAD_USER_INPUT"},
            )
            ec.result = GraphQLExecutionResult(data=None, errors=[error])
        yield


_INTERNAL_CODES = frozenset({"INTERNAL_SERVER_ERROR", "INTERNAL"})


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
            if is_client_error(error):
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


def extensions(
    *, production: bool, max_depth: int, max_aliases: int, max_tokens: int
) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    # The rule classes are made once: the validation cache is keyed by them, and Strawberry's
    # QueryDepthLimiter / MaxAliasesLimiter would make new classes (cache misses) per request.
    rules: list[type[ASTValidationRule]] = [
        depth_validator(max_depth, None),
        aliases_validator(max_aliases),
        NoNulInLiterals,
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    result: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        OperationLog,
        RejectNulCharacters,
        QuerySnapshot,
        # Dashboards and scanners send the same few documents again and again.
        lambda: ParserCache(maxsize=256),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=256),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
    ]
    if production:
        result.append(HideSuggestions)
        result.append(lambda: MaskErrors(should_mask_error=_visible))
    return result


def build_schema(
    *, production: bool = False, max_depth: int = 12, max_aliases: int = 30, max_tokens: int = 5000
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
        ),
        config=config,
        execution_context_class=BipaExecutionContext,
    )
