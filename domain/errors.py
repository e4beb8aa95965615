"""Expected failures of the domain, each with a stable machine-readable code.

The English message is for API clients and logs; `code` (and `params`, the values a text
needs) is what front-ends branch on: gql exposes it as `Error.code`, the bot maps it to a
Portuguese sentence. Codes are part of the API: never rename one.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An expected failure: the transaction is rolled back and the caller gets data, not a 500."""

    # The code of an error raised without a more specific one.
    default_code: ClassVar[str] = "DOMAIN_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, params: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.params: dict[str, str] = dict(params or {})


class NotFound(DomainError):
    default_code = "NOT_FOUND"

    def __init__(
        self,
        message: str,
        id: str | None = None,
        *,
        code: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.id = id


class ValidationFailed(DomainError):
    default_code = "INVALID_INPUT"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        *,
        code: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.field = field


class InvalidTransition(DomainError):
    default_code = "INVALID_TRANSITION"

    def __init__(
        self,
        entity: str,
        from_: str,
        to: str,
        *,
        code: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            f"{entity} cannot go from {from_} to {to}",
            code=code,
            params={"entity": entity, "from": from_, "to": to, **(params or {})},
        )
        self.entity = entity
        self.from_ = from_
        self.to = to


class ReadOnlySession(DomainError):
    default_code = "SESSION_READ_ONLY"

    def __init__(self, session_id: str, status: str) -> None:
        super().__init__(
            f"session {session_id} is {status} and read-only", params={"status": status}
        )
        self.session_id = session_id


class PermissionDenied(DomainError):
    default_code = "PERMISSION_DENIED"

    def __init__(
        self,
        message: str = "you are not allowed to do this",
        *,
        code: str | None = None,
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)


class IdempotencyConflict(DomainError):
    default_code = "IDEMPOTENCY_CONFLICT"

    def __init__(self) -> None:
        super().__init__("this idempotency key was already used with a different request")


class InvalidImage(DomainError):
    default_code = "INVALID_IMAGE"


class Overloaded(DomainError):
    default_code = "OVERLOADED"

    def __init__(self) -> None:
        super().__init__("the scanner is busy: too many photos are waiting; try again shortly")


class Unauthenticated(Exception):
    """No or bad credentials: not an expected result of an operation but a refused request."""
