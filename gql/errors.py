"""Errors as data: every expected domain failure maps to one union member, here only."""

from __future__ import annotations

import strawberry

from domain import errors as d


@strawberry.interface(name="Error")
class Error:
    message: str


@strawberry.type
class NotFoundError(Error):
    id: strawberry.ID | None = None


@strawberry.type
class ValidationError(Error):
    field: str | None = None


@strawberry.type
class InvalidTransitionError(Error):
    from_: str = strawberry.field(name="from")
    to: str


@strawberry.type
class ReadOnlySessionError(Error):
    session_id: strawberry.ID


@strawberry.type
class PermissionDeniedError(Error):
    pass


@strawberry.type
class IdempotencyConflictError(Error):
    pass


@strawberry.type
class ImageError(Error):
    pass


ErrorType = (
    NotFoundError
    | ValidationError
    | InvalidTransitionError
    | ReadOnlySessionError
    | PermissionDeniedError
    | IdempotencyConflictError
    | ImageError
)


def to_error(exc: d.DomainError) -> ErrorType:
    match exc:
        case d.NotFound():
            return NotFoundError(message=exc.message, id=strawberry.ID(exc.id) if exc.id else None)
        case d.ValidationFailed():
            return ValidationError(message=exc.message, field=exc.field)
        case d.InvalidTransition():
            return InvalidTransitionError(message=exc.message, from_=exc.from_, to=exc.to)
        case d.ReadOnlySession():
            return ReadOnlySessionError(
                message=exc.message, session_id=strawberry.ID(exc.session_id)
            )
        case d.PermissionDenied():
            return PermissionDeniedError(message=exc.message)
        case d.IdempotencyConflict():
            return IdempotencyConflictError(message=exc.message)
        case d.InvalidImage():
            return ImageError(message=exc.message)
    raise TypeError(f"unmapped domain error {type(exc).__name__}")  # a bug, not user input
