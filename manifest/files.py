"""Bytes -> rows of cells, for CSV and XLSX, after the checks that refuse a whole file.

Which format is the content's business, not the name's: a PDF renamed .csv is refused as a
PDF, and an XLSX renamed .csv is read as the XLSX it is. The name only improves the message.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterator
from typing import Any

from manifest.headers import map_headers
from manifest.model import ManifestError
from manifest.rows import Cell, Formula

# An XLSX is a zip of XML: what it may hold once inflated, checked from its directory before
# any byte is inflated. XML inflates 5-20x in real workbooks; a bomb, 100x and more.
MAX_ENTRIES = 1000
MAX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_RATIO = 100
_RATIO_FROM = 1024 * 1024  # small entries compress well without being bombs
_DELIMITERS = (",", ";", "\t", "|")
_MAGIC = (
    (b"%PDF", "PDF"),
    (b"\xd0\xcf\x11\xe0", "XLS"),  # OLE2: the old .xls, or an XLSX protected by a password
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"\x1f\x8b", "GZIP"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7Z"),
)
Rows = Iterator[tuple[int, list[Cell]]]


def _not_a_spreadsheet(kind: str, filename: str | None) -> ManifestError:
    hint = {
        "XLS": "uma planilha .xls antiga ou protegida por senha: salve como .xlsx sem senha",
        "ZIP": "um arquivo compactado que não é uma planilha .xlsx",
        "BINARY": "um arquivo binário, não um texto CSV",
        "CSV": "um CSV ilegível",
    }.get(kind, f"um arquivo {kind}")
    return ManifestError(
        "NOT_A_SPREADSHEET",
        f"the file is not a CSV or XLSX spreadsheet ({kind.lower()})",
        f"O arquivo{' ' + filename if filename else ''} não é uma planilha CSV ou XLSX: "
        f"parece {hint}.",
        {"detected": kind},
    )


def open_rows(data: bytes, filename: str | None) -> Rows:
    """Rows of cells with the row number a person sees, header first; blank rows included."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            raise _not_a_spreadsheet(kind, filename)
    if data.startswith(b"PK"):
        return _xlsx_rows(data, filename)
    return _csv_rows(data, filename)


# --- XLSX ---------------------------------------------------------------------------------------


def check_archive(data: bytes, filename: str | None) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise _not_a_spreadsheet("ZIP", filename) from e
    entries = archive.infolist()
    unsafe = len(entries) > MAX_ENTRIES
    total = 0
    for entry in entries:
        total += entry.file_size
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _RATIO_FROM and ratio > MAX_RATIO:
            unsafe = True
    if unsafe or total > MAX_UNCOMPRESSED:
        raise ManifestError(
            "UNSAFE_ARCHIVE",
            "the XLSX would inflate far beyond its size (a zip bomb?)",
            "A planilha XLSX se expandiria muito além do seu tamanho (possível bomba de "
            "compressão) e não foi aberta.",
            {"entries": str(len(entries)), "uncompressed": str(total)},
        )
    names = {e.filename for e in entries}
    if "xl/workbook.xml" not in names:
        raise _not_a_spreadsheet("ZIP", filename)


def _xlsx_value(cell: Any) -> Cell:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f" or type(value).__name__ in (
        "ArrayFormula",
        "DataTableFormula",
    ):
        return Formula(str(getattr(value, "text", value)))
    if value is None or isinstance(value, str | int | float | bool):
        return value  # type: ignore[no-any-return]
    return str(value)


def _xlsx_rows(data: bytes, filename: str | None) -> Rows:
    check_archive(data, filename)
    import openpyxl  # here: a CSV import never pays for loading it

    try:
        book = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=False, keep_links=False
        )
    # A damaged workbook fails inside openpyxl in many ways (KeyError, ValueError, XML
    # errors...): each is the same answer for the operator.
    except Exception as e:
        raise _not_a_spreadsheet("ZIP", filename) from e
    return _sheet_rows(book, filename)


def _sheet_rows(book: Any, filename: str | None) -> Rows:
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        # The <dimension> a generator writes may be wrong: read every row there is.
        sheet.reset_dimensions()
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            yield number, [_xlsx_value(c) for c in cells]
    except ManifestError:
        raise
    except Exception as e:  # see _xlsx_rows
        raise _not_a_spreadsheet("ZIP", filename) from e
    finally:
        book.close()


# --- CSV ----------------------------------------------------------------------------------------


def decode(data: bytes, filename: str | None) -> str:
    """UTF-8 (with or without Excel's BOM), UTF-16 with a BOM (Excel's "Unicode text"),
    else Windows-1252, else Latin-1: every byte is a Latin-1 character, so the last one
    never fails and the binary check below is what refuses junk."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as e:
            raise _not_a_spreadsheet("BINARY", filename) from e
    else:
        for encoding in ("utf-8-sig", "cp1252", "latin-1"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    sample = text[:65536]
    control = sum(
        1 for c in sample if c not in "\t\r\n" and unicodedata.category(c) in ("Cc", "Cs", "Co")
    )
    if "\x00" in sample or control > max(2, len(sample) // 200):
        raise _not_a_spreadsheet("BINARY", filename)
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter under which the header names the most known columns, then under which
    the first rows agree on their width. csv.Sniffer guesses wrong on short files and on
    addresses full of commas."""
    sample = text[:65536]
    best: tuple[int, int, int] = (-1, -1, -1)
    chosen = ","
    for delimiter in _DELIMITERS:
        try:
            lines = [row for row in csv.reader(io.StringIO(sample), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not lines:
            continue
        lines = lines[:50]
        header = lines[0]
        known = len(map_headers(header))
        same_width = sum(1 for row in lines[1:-1] if len(row) == len(header))
        score = (known, same_width if len(header) > 1 else 0, len(header))
        if score > best:
            best, chosen = score, delimiter
    return chosen


def _csv_rows(data: bytes, filename: str | None) -> Rows:
    text = decode(data, filename)
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    number = 0
    try:
        for number, record in enumerate(reader, start=1):  # noqa: B007 (used after the loop)
            yield number, list(record)
    except csv.Error as e:
        raise ManifestError(
            "NOT_A_SPREADSHEET",
            f"the CSV is malformed near row {number + 1}",
            f"O CSV está malformado perto da linha {number + 1} (aspas sem fechar?).",
            {"detected": "CSV", "row": str(number + 1)},
        ) from e
