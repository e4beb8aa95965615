"""Cells a spreadsheet would run."""

from __future__ import annotations

# A cell beginning with one of these is a formula to Excel, LibreOffice and Google Sheets
# (tab and CR too: some strip them and then see the rest).
_ACTIVE = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """A text a spreadsheet would run as a formula is prefixed with `'`, which shows as text."""
    return "'" + value if value.startswith(_ACTIVE) else value
