"""Opaque, stable cursors: base64url of a small JSON array naming the sort key of a row."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from graphql import GraphQLError

from domain.errors import ValidationFailed

MAX_PAGE = 1000


def encode(kind: str, *parts: Any) -> str:
    raw = json.dumps([kind, *[p.isoformat() if isinstance(p, datetime) else str(p) for p in parts]])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, kind: str, field: str = "after") -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("invalid cursor", field=field, code="BAD_CURSOR") from None
    if not isinstance(data, list) or not data or data[0] != kind:
        raise ValidationFailed(
            "cursor does not belong to this list", field=field, code="BAD_CURSOR"
        )
    return [str(x) for x in data[1:]]


def decode_time_id(cursor: str | None, kind: str) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    parts = _decode(cursor, kind)
    try:
        return datetime.fromisoformat(parts[0]), uuid.UUID(parts[1])
    except (ValueError, IndexError):
        raise ValidationFailed("invalid cursor", field="after", code="BAD_CURSOR") from None


def decode_int(cursor: str | None, kind: str, field: str = "after") -> int:
    if cursor is None:
        return 0
    parts = _decode(cursor, kind, field)
    try:
        return int(parts[0])
    except (ValueError, IndexError):
        raise ValidationFailed("invalid cursor", field=field, code="BAD_CURSOR") from None


def page_size(first: int | None, default: int) -> int:
    size = default if first is None else first
    if size < 0 or size > MAX_PAGE:
        raise ValidationFailed(
            f"first must be between 0 and {MAX_PAGE}", field="first", code="BAD_PAGE_SIZE"
        )
    return size


def bad_input(exc: ValidationFailed) -> Exception:
    """A refused query argument (a bad cursor, a page too large) as a coded GraphQL error."""
    return GraphQLError(
        exc.message, extensions={"code": "BAD_USER_INPUT", "field": exc.field, "reason": exc.code}
    )


def parse_id(value: str | None) -> uuid.UUID | None:
    """An id argument of a read: not a UUID means no such row (an empty answer, not an error)."""
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def time_page(
    first: int | None, after: str | None, kind: str, default: int
) -> tuple[int, tuple[datetime, uuid.UUID] | None]:
    """The page size and the (time, id) cursor of a list argument, or a BAD_USER_INPUT error."""
    try:
        return page_size(first, default), decode_time_id(after, kind)
    except ValidationFailed as exc:
        raise bad_input(exc) from None


def sequence_page(
    first: int | None, after: str | None, kind: str, default: int, field: str = "after"
) -> tuple[int, int]:
    """The page size and the sequence cursor of a list argument, or a BAD_USER_INPUT error."""
    try:
        return page_size(first, default), decode_int(after, kind, field)
    except ValidationFailed as exc:
        raise bad_input(exc) from None
