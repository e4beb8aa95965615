"""Runs one mutation: caller, unit of work, idempotency, one domain call, errors as data.

A replay (same caller, same idempotencyKey, same input) returns the first result, re-read
from the stored reference; the domain call does not run again.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from strawberry.types import Info

from db.models import User
from domain import idempotency
from domain.errors import DomainError, NotFound
from domain.uow import UnitOfWork
from gql.batching import Job, Retry
from gql.context import Context
from gql.errors import to_error

R = TypeVar("R")
Ref = dict[str, Any]


def parse_uuid(value: Any, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(f"{what} not found", id=str(value)) from None


async def run(
    info: Info[Context, None],
    operation: str,
    payload: dict[str, Any],
    idempotency_key: str | None,
    action: Callable[[UnitOfWork, User], Awaitable[Ref]],
    render: Callable[[Ref], Awaitable[Any]],
) -> Any:
    stored: Ref | None = None
    try:
        async with info.context.services.uow() as uow:
            caller = await info.context.caller(uow)
            if idempotency_key is not None:
                stored = await idempotency.begin(uow, caller, idempotency_key, operation, payload)
            if stored is None:
                ref = await action(uow, caller)
                if idempotency_key is not None:
                    await idempotency.remember(uow, caller, idempotency_key, ref)
                await uow.commit()
    except DomainError as exc:
        return to_error(exc)
    # Rendered after the transaction is closed: rendering reads through other connections, and
    # holding this one meanwhile could starve the pool under a burst of concurrent retries.
    return await render(stored if stored is not None else ref)


async def run_grouped(
    info: Info[Context, None],
    group: Any,
    operation: str,
    payload: dict[str, Any],
    idempotency_key: str | None,
    action: Callable[[UnitOfWork, User], Awaitable[Ref]],
    render: Callable[[Ref], Awaitable[Any]],
) -> Any:
    """`run`, sharing one transaction with concurrent calls on the same session (`group`).

    Same results, errors and idempotency as `run` (gql/batching.py); a call whose group is
    not a valid session id simply runs alone.
    """
    session_id: uuid.UUID | None = None
    with contextlib.suppress(ValueError):
        session_id = uuid.UUID(str(group))
    if session_id is None or not info.context.services.group_commit:
        return await run(info, operation, payload, idempotency_key, action, render)
    caller = await info.context.caller()
    job = Job(caller, operation, payload, idempotency_key, action)
    outcome = await info.context.services.batches.submit(session_id, job)
    if job.rolled_back:
        info.context.forget_loaders()
    if isinstance(outcome, Retry):
        return await run(info, operation, payload, idempotency_key, action, render)
    if isinstance(outcome, DomainError):
        return to_error(outcome)
    return await render(outcome)
