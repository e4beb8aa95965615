"""Keyset pages both ways, and the folded text search the lists share.

A list is ordered by a key of columns (the last one unique, an id). Forward pages take rows
after a cursor in list order; backward pages take rows before it (or the list's end), read in
reverse order. Either way one row more than asked is read, in the order read: the front-end
(gql/pagination.py: settle) tells from it whether more lie beyond, and turns a backward page
round into list order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, literal, tuple_
from sqlalchemy.orm import QueryableAttribute

T = TypeVar("T", bound=tuple[Any, ...])
Column = ColumnElement[Any] | QueryableAttribute[Any]


@dataclass(frozen=True)
class Seek:
    """Where a page starts: `after`/`before` are key values of the list's order (or None)."""

    size: int
    after: Sequence[Any] | None = None
    before: Sequence[Any] | None = None
    backward: bool = False


def page(stmt: Select[T], key: Sequence[Column], seek: Seek, *, descending: bool) -> Select[T]:
    """`stmt` limited to the page `seek` names (size + 1 rows), ordered as read."""
    columns = tuple_(*key)
    if seek.after is not None:
        bound = tuple_(*[literal(v) for v in seek.after])
        stmt = stmt.where(columns < bound if descending else columns > bound)
    if seek.before is not None:
        bound = tuple_(*[literal(v) for v in seek.before])
        stmt = stmt.where(columns > bound if descending else columns < bound)
    reverse = descending != seek.backward
    order = [c.desc() if reverse else c.asc() for c in key]
    return stmt.order_by(*order).limit(seek.size + 1)


# Accented letters of Portuguese (and a few neighbours) and their plain lower-case letters.
# translate() and lower() are immutable, so an expression index could use fold() as well.
_ACCENTED = "ÁÀÂÃÄÅáàâãäåÉÈÊËéèêëÍÌÎÏíìîïÓÒÔÕÖóòôõöÚÙÛÜúùûüÇçÑñÝýÿ"
_PLAIN = "aaaaaaaaaaaaeeeeeeeeiiiiiiiioooooooooouuuuuuuuccnnyyy"
assert len(_ACCENTED) == len(_PLAIN)


def fold(expr: Column) -> ColumnElement[str]:
    """Text with case and accents set aside, the same way for a column and for a query."""
    return func.lower(func.translate(expr, _ACCENTED, _PLAIN))


def contains(expr: Column, text: str) -> ColumnElement[bool]:
    """`text` occurs in `expr`, case and accents aside (LIKE wildcards in `text` are literal)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return fold(expr).like(func.concat("%", fold(literal(escaped)), "%"), escape="\\")
