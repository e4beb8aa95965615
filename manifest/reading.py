"""read_manifest: the whole reading of one uploaded file."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from manifest.files import open_rows
from manifest.headers import map_headers
from manifest.model import Manifest, ManifestError, ManifestRow, RowProblem
from manifest.rows import Cell, cell_text, is_blank, parse_row


def _too_large(size: int, max_bytes: int) -> ManifestError:
    return ManifestError(
        "FILE_TOO_LARGE",
        f"the file has {size} bytes, more than the {max_bytes} allowed",
        f"O arquivo tem {size / 1_000_000:.1f} MB, mais que o limite de "
        f"{max_bytes / 1_000_000:.1f} MB.",
        {"size": str(size), "max": str(max_bytes)},
    )


def _too_many_rows(max_rows: int) -> ManifestError:
    return ManifestError(
        "TOO_MANY_ROWS",
        f"the file has more than {max_rows} rows",
        f"O arquivo tem mais de {max_rows} linhas; divida-o em arquivos menores.",
        {"max": str(max_rows)},
    )


def _dedup_key(code: str) -> str:
    # The domain compares canonical codes (tracking.identify); within one file, the text
    # without spaces and case is what a person would call "the same code".
    return "".join(code.split()).upper()


class _DataRows:
    """The refusals of the whole file (raised as ManifestError), then its data rows; blank
    rows skipped. After the iteration: the header's column of each field and the row count."""

    def __init__(self, data: bytes, filename: str | None, max_bytes: int, max_rows: int) -> None:
        if len(data) > max_bytes:
            raise _too_large(len(data), max_bytes)
        if not data.strip():
            raise ManifestError("EMPTY", "the file is empty", "O arquivo está vazio.")
        self._rows = open_rows(data, filename)
        self._max_rows = max_rows
        self.header: list[str] | None = None
        self.columns: dict[str, int] = {}
        self.total = 0

    def __iter__(self) -> Iterator[tuple[int, Sequence[Cell]]]:
        for number, cells in self._rows:
            if is_blank(cells):
                continue
            if self.header is None:
                self.header = [_header_text(c) for c in cells]
                self.columns = map_headers(self.header)
                if "tracking_code" not in self.columns:
                    raise ManifestError(
                        "NO_TRACKING_COLUMN",
                        "no column of the header is the tracking code",
                        "Nenhuma coluna do cabeçalho é o código de rastreio (use, por exemplo, "
                        "'Código de rastreio' ou 'rastreio' na primeira linha).",
                        {"headers": ", ".join(h for h in self.header if h)[:500]},
                    )
                continue
            self.total += 1
            if self.total > self._max_rows:
                raise _too_many_rows(self._max_rows)
            yield number, cells
        if self.header is None or self.total == 0:
            raise ManifestError(
                "EMPTY", "the file has no data rows", "O arquivo não tem linhas de dados."
            )

    def named_columns(self) -> dict[str, str]:
        assert self.header is not None
        return {field: self.header[index] for field, index in self.columns.items()}


def check_manifest(
    data: bytes, filename: str | None = None, *, max_bytes: int, max_rows: int
) -> int:
    """What refuses the whole file, without reading each row's fields (an upload's check,
    before the file is stored; the job reads it whole): raises ManifestError, or answers the
    number of data rows."""
    rows = _DataRows(data, filename, max_bytes, max_rows)
    for _ in rows:
        pass
    return rows.total


def read_manifest(
    data: bytes, filename: str | None = None, *, max_bytes: int, max_rows: int
) -> Manifest:
    """Raises ManifestError for a file that cannot be read at all; everything about single
    rows is in the result's `problems`, and those rows are not in its `rows`."""
    rows = _DataRows(data, filename, max_bytes, max_rows)
    found: list[ManifestRow] = []
    problems: list[RowProblem] = []
    first_row: dict[str, int] = {}
    for number, cells in rows:
        row, row_problems, code = parse_row(number, cells, rows.columns)
        if code is not None:
            key = _dedup_key(code)
            if key in first_row:
                row_problems.append(
                    RowProblem(
                        number,
                        "tracking_code",
                        "DUPLICATE_IN_FILE",
                        f"código repetido: já aparece na linha {first_row[key]}",
                    )
                )
                row = None
            else:
                first_row[key] = number
        problems.extend(row_problems)
        if row is not None:
            found.append(row)
    return Manifest(
        rows=tuple(found),
        problems=tuple(problems),
        columns=rows.named_columns(),
        total_rows=rows.total,
    )


def _header_text(cell: object) -> str:
    try:
        return cell_text(cell, "recipient_name") or ""  # type: ignore[arg-type]
    except Exception:  # a formula in the header names nothing
        return ""
