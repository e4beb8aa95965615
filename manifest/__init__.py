"""Delivery manifests (the day's parcels from a marketplace or carrier) read from CSV or XLSX.

Pure: bytes in, rows and per-row problems out; imports nothing of ours. Structural checks
only (a tracking code present, lengths, CEP and UF shapes, duplicates inside the file); the
domain applies the package rules (domain/manifests.py).

    from manifest import read_manifest
    m = read_manifest(data, "dia.csv", max_bytes=20_000_000, max_rows=20_000)
    m.rows, m.problems
    check_manifest(data, "dia.csv", max_bytes=..., max_rows=...)  # the whole-file refusals only
"""

from manifest.export import escape_cell, problems_csv, template
from manifest.model import FIELDS, Manifest, ManifestError, ManifestRow, RowProblem
from manifest.reading import check_manifest, read_manifest
from manifest.rows import LABELS

__all__ = [
    "FIELDS",
    "LABELS",
    "Manifest",
    "ManifestError",
    "ManifestRow",
    "RowProblem",
    "check_manifest",
    "escape_cell",
    "problems_csv",
    "read_manifest",
    "template",
]
