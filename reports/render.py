"""The formats a session report comes in, and the one entry point that renders it."""

from __future__ import annotations

from reports.model import SessionReport

FORMATS = ("CSV", "XLSX", "PDF")
_TYPES = {
    "CSV": "text/csv; charset=utf-8",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "PDF": "application/pdf",
}
_ACTIVE = ("=", "+", "-", "@", "\t", "\r")


def _format(fmt: str) -> str:
    kind = fmt.upper()
    if kind not in _TYPES:
        raise ValueError(f"no report in {fmt!r}: one of {', '.join(FORMATS)}")
    return kind


def content_type(fmt: str) -> str:
    return _TYPES[_format(fmt)]


def extension(fmt: str) -> str:
    return _format(fmt).lower()


def escape_cell(value: str) -> str:
    """A text a spreadsheet would run as a formula is prefixed with `'`, which shows as text."""
    return "'" + value if value.startswith(_ACTIVE) else value


def render(report: SessionReport, fmt: str) -> bytes:
    kind = _format(fmt)
    if kind == "CSV":
        from reports.tables import csv_bytes

        return csv_bytes(report)
    if kind == "XLSX":
        from reports.tables import xlsx_bytes

        return xlsx_bytes(report)
    from reports.pdf import pdf_bytes

    return pdf_bytes(report)
