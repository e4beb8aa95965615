"""The per-row report and the templates, read back with the csv module and openpyxl."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

import manifest
import reports
from manifest import LABELS, RowProblem, problems_csv, read_manifest, template


def _rows(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads the accents only with the BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_problems_csv_is_escaped_and_names_the_file_columns() -> None:
    problems = [
        RowProblem(7, "cep", "INVALID_CEP", "o CEP deve ter 8 dígitos"),
        RowProblem(3, "deliverer", "UNKNOWN_DELIVERER", '=HYPERLINK("x") não é entregador'),
        RowProblem(4, None, "ROW", "-linha inteira"),
    ]
    rows = _rows(problems_csv(problems, {"cep": "Código Postal"}))
    assert rows[0] == ["Linha", "Coluna", "Código", "Motivo"]
    assert rows[1] == [
        "3",
        LABELS["deliverer"],
        "UNKNOWN_DELIVERER",
        '\'=HYPERLINK("x") não é entregador',
    ]
    assert rows[2] == ["4", "", "ROW", "'-linha inteira"]
    assert rows[3] == ["7", "Código Postal", "INVALID_CEP", "o CEP deve ter 8 dígitos"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_read_back_as_one_valid_row(fmt: str) -> None:
    data = template(fmt)
    if fmt == "csv":
        assert _rows(data)[0][0] == "Código de rastreio"
    else:
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        assert sheet["A1"].value == "Código de rastreio"
    m = read_manifest(data, f"modelo.{fmt}", max_bytes=10**7, max_rows=10)
    assert m.problems == () and len(m.rows) == 1
    assert set(m.columns) == set(manifest.FIELDS)


def test_template_formats() -> None:
    with pytest.raises(ValueError):
        template("pdf")


@pytest.mark.parametrize(
    "value", ["=1+1", "+55 11", "-3", "@SUM(A1)", "\tx", "\rx", "ok", "", "'quoted", "a=b"]
)
def test_escape_is_the_same_as_reports(value: str) -> None:
    # manifest keeps its own copy (pure packages import nothing of ours): they must agree.
    assert manifest.escape_cell(value) == reports.escape_cell(value)
