"""What reading a manifest gives: its valid rows, the problems of the others, and the errors
that refuse the whole file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The fields a manifest row may carry, in the order templates and reports show them.
FIELDS = (
    "tracking_code",
    "recipient_name",
    "phone",
    "street",
    "number",
    "complement",
    "neighbourhood",
    "city",
    "uf",
    "cep",
    "deliverer",
)


class ManifestError(Exception):
    """The file as a whole cannot be read. `code` is stable English, `message` English for
    the API, `reason` Brazilian Portuguese for the operator who sent the file."""

    def __init__(
        self, code: str, message: str, reason: str, params: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.params: Mapping[str, str] = dict(params or {})


@dataclass(frozen=True)
class ManifestRow:
    """One parcel of the manifest. `row` is the row number a person sees (header = row 1)."""

    row: int
    tracking_code: str
    recipient_name: str | None = None
    phone: str | None = None
    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighbourhood: str | None = None
    city: str | None = None
    uf: str | None = None
    cep: str | None = None
    deliverer: str | None = None


@dataclass(frozen=True)
class RowProblem:
    """Why one row is not imported. `column` is the field name (`FIELDS`), None for the row as
    a whole; `code` stable English; `reason` Brazilian Portuguese (operators read it)."""

    row: int
    column: str | None
    code: str
    reason: str


@dataclass(frozen=True)
class Manifest:
    """`rows`: the rows with no problem, in file order; `problems`: one or more per other row;
    `columns`: field -> header as found in the file; `total_rows`: data rows (blank ones not
    counted)."""

    rows: tuple[ManifestRow, ...]
    problems: tuple[RowProblem, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    total_rows: int = 0
