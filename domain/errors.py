"""Expected failures of the domain. gql/errors.py maps each to a GraphQL union member."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure: the transaction is rolled back and the caller gets data, not a 500."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    def __init__(self, message: str, id: str | None = None) -> None:
        super().__init__(message)
        self.id = id


class ValidationFailed(DomainError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidTransition(DomainError):
    def __init__(self, entity: str, from_: str, to: str) -> None:
        super().__init__(f"{entity} cannot go from {from_} to {to}")
        self.from_ = from_
        self.to = to


class ReadOnlySession(DomainError):
    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(f"session {session_id} is {status} and read-only")
        self.session_id = session_id


class PermissionDenied(DomainError):
    def __init__(self, message: str = "you are not allowed to do this") -> None:
        super().__init__(message)


class IdempotencyConflict(DomainError):
    def __init__(self) -> None:
        super().__init__("this idempotency key was already used with a different request")


class InvalidImage(DomainError):
    pass


class Unauthenticated(Exception):
    """No or bad credentials: not an expected result of an operation but a refused request."""
