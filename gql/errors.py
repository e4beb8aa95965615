"""Errors as data: every expected domain failure maps to one union member, here only.

`ERRORS` is the one list of error members; every mutation's result union is its success type
plus all of them, so a client that selects `... on Error { code message }` sees every refusal.
"""

from __future__ import annotations

from typing import Any

import strawberry

from domain import errors as d


@strawberry.interface(name="Error", description="A refused operation: nothing was written.")
class Error:
    message: str = strawberry.field(description="What went wrong, in English, for people.")
    code: str = strawberry.field(
        description="Stable machine-readable reason (e.g. SESSION_NOT_FOUND, NOT_YOUR_PACKAGE)."
    )


@strawberry.type(description="The thing named by id does not exist or is not visible.")
class NotFoundError(Error):
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The id that was not found, when the request named one."
    )


@strawberry.type(description="The input breaks a rule; `field` names the input field.")
class ValidationError(Error):
    field: str | None = strawberry.field(
        default=None,
        description="The input field at fault (camelCase, e.g. idempotencyKey, packages); null "
        "when no single field is.",
    )


@strawberry.type(description="The state machine does not allow this move.")
class InvalidTransitionError(Error):
    from_: str = strawberry.field(
        name="from", description="The current status (e.g. a SessionStatus or DeliveryStatus)."
    )
    to: str = strawberry.field(description="The status that was asked for and refused.")


@strawberry.type(description="The session is COMPLETED or ARCHIVED: read-only history.")
class ReadOnlySessionError(Error):
    session_id: strawberry.ID = strawberry.field(description="The read-only session.")


@strawberry.type(description="The caller may not do this.")
class PermissionDeniedError(Error):
    pass


@strawberry.type(description="The idempotency key was used before with a different request.")
class IdempotencyConflictError(Error):
    pass


@strawberry.type(description="The upload is not an image we can read.")
class ImageError(Error):
    pass


@strawberry.type(description="The scanner queue is full; retry later (nothing was changed).")
class OverloadedError(Error):
    pass


ERRORS = (
    NotFoundError
    | ValidationError
    | InvalidTransitionError
    | ReadOnlySessionError
    | PermissionDeniedError
    | IdempotencyConflictError
    | ImageError
    | OverloadedError
)


RESULT = (
    "The success member when the change was made (a retry with the same idempotency key "
    "answers it again), else an Error member saying why; a refusal writes nothing."
)


def result(name: str) -> Any:
    """A mutation's result union: its success type | ERRORS."""
    return strawberry.union(name, description=RESULT)


def to_error(exc: d.DomainError) -> Any:
    base = {"message": exc.message, "code": exc.code}
    match exc:
        case d.NotFound():
            return NotFoundError(**base, id=strawberry.ID(exc.id) if exc.id else None)
        case d.ValidationFailed():
            return ValidationError(**base, field=exc.field)
        case d.InvalidTransition():
            return InvalidTransitionError(**base, from_=exc.from_, to=exc.to)
        case d.ReadOnlySession():
            return ReadOnlySessionError(**base, session_id=strawberry.ID(exc.session_id))
        case d.PermissionDenied():
            return PermissionDeniedError(**base)
        case d.IdempotencyConflict():
            return IdempotencyConflictError(**base)
        case d.InvalidImage():
            return ImageError(**base)
        case d.Overloaded():
            return OverloadedError(**base)
    raise TypeError(f"unmapped domain error {type(exc).__name__}")  # a bug, not user input
