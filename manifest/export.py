"""What operators download: the per-row problems report and the templates.

CSV files are written the way a Brazilian Excel opens them with a double click: `;` between
fields (the list separator where the decimal separator is a comma) and a UTF-8 BOM (without
it Excel reads the accents as Windows-1252).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from manifest.model import FIELDS, RowProblem
from manifest.rows import LABELS

# The same rule as reports.escape_cell. Pure packages import nothing of ours, each other
# included, so this is a copy of its three lines; tests/manifest checks both agree.
_ACTIVE = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """A text a spreadsheet would run as a formula is prefixed with `'`, which shows as text."""
    return "'" + value if value.startswith(_ACTIVE) else value


EXAMPLE = {
    "tracking_code": "AA123456785BR",
    "recipient_name": "Maria da Conceição",
    "phone": "(11) 98765-4321",
    "street": "Avenida Paulista",
    "number": "1578",
    "complement": "apto 42",
    "neighbourhood": "Bela Vista",
    "city": "São Paulo",
    "uf": "SP",
    "cep": "01310-200",
    "deliverer": "João Silva",
}


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for row in rows:
        writer.writerow([escape_cell(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def problems_csv(
    problems: Sequence[RowProblem], columns: Mapping[str, str] | None = None
) -> bytes:
    """Row, column (the header as found in the file when `columns` is given), code, reason."""
    names = columns or {}
    lines: list[list[str]] = [["Linha", "Coluna", "Código", "Motivo"]]
    for p in sorted(problems, key=lambda p: p.row):
        column = "" if p.column is None else names.get(p.column) or LABELS.get(p.column, p.column)
        lines.append([str(p.row), column, p.code, p.reason])
    return _csv(lines)


def template(fmt: str) -> bytes:
    """A file to fill in: the headers in Portuguese and one example row; "csv" or "xlsx"."""
    headers = [LABELS[f] for f in FIELDS]
    example = [EXAMPLE[f] for f in FIELDS]
    kind = fmt.lower()
    if kind == "csv":
        return _csv([headers, example])
    if kind == "xlsx":
        return _xlsx(headers, example)
    raise ValueError(f"no template in {fmt!r}: csv or xlsx")


def _xlsx(headers: list[str], example: list[str]) -> bytes:
    import openpyxl
    from openpyxl.styles import Font

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Manifesto"
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, value in enumerate(example, start=1):
        cell = sheet.cell(row=2, column=column, value=value)
        # Text format ("@") on the code columns: Excel then keeps leading zeros and long digits.
        cell.number_format = "@"
    for column, header in enumerate(headers, start=1):
        letter = openpyxl.utils.get_column_letter(column)
        sheet.column_dimensions[letter].width = max(12, len(header) + 4)
        for row in range(3, 1003):
            sheet.cell(row=row, column=column).number_format = "@"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
