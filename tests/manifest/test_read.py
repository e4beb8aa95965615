"""read_manifest on real files made here: CSV in every delimiter and encoding, XLSX written by
openpyxl, and the files that must be refused."""

from __future__ import annotations

import io
import zipfile

import openpyxl
import pytest

from manifest import FIELDS, ManifestError, check_manifest, read_manifest

LIMITS = {"max_bytes": 20_000_000, "max_rows": 20_000}
HEADER = [
    "Código de rastreio",
    "Destinatário",
    "Telefone",
    "Rua",
    "Número",
    "Complemento",
    "Bairro",
    "Cidade",
    "UF",
    "CEP",
    "Entregador",
]
ROWS = [
    [
        "AA123456785BR",
        "Maria da Conceição",
        "(11) 98765-4321",
        "Rua São João",
        "12",
        "apto 3; fundos",
        "Centro",
        "São Paulo",
        "SP",
        "01310-100",
        "João",
    ],
    [
        "41234567890",
        "José Ávila",
        "",
        "Av. Paraná, trecho 2",
        "1.500",
        "",
        "Água Verde",
        "Curitiba",
        "pr",
        "80240000",
        "",
    ],
]


def _csv(rows: list[list[str]], delimiter: str, encoding: str, bom: bool = False) -> bytes:
    def quote(v: str) -> str:
        return f'"{v}"' if any(c in v for c in f'{delimiter}";\n,') else v

    text = "\r\n".join(delimiter.join(quote(v) for v in row) for row in rows) + "\r\n"
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def _xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize(
    ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("cp1252", False), ("latin-1", False)]
)
def test_csv_in_any_delimiter_and_encoding(delimiter: str, encoding: str, bom: bool) -> None:
    m = read_manifest(_csv([HEADER, *ROWS], delimiter, encoding, bom), "dia.csv", **LIMITS)
    assert m.problems == ()
    assert m.total_rows == 2
    assert set(m.columns) == set(FIELDS)
    first, second = m.rows
    assert (first.row, second.row) == (2, 3)
    assert first.recipient_name == "Maria da Conceição"
    assert first.complement == "apto 3; fundos"  # a quoted delimiter stays in its field
    assert second.street == "Av. Paraná, trecho 2"
    assert second.uf == "PR" and second.cep == "80240-000"
    assert second.phone is None and second.deliverer is None


def test_utf16_from_excel_unicode_text() -> None:
    data = "\r\n".join("\t".join(r) for r in [HEADER, *ROWS]).encode("utf-16")
    assert [r.tracking_code for r in read_manifest(data, "x.txt", **LIMITS).rows] == [
        "AA123456785BR",
        "41234567890",
    ]


def test_headers_in_english_and_any_case_or_accent() -> None:
    data = _csv(
        [
            [
                "TRACKING CODE",
                "recipient",
                "Phone",
                "logradouro",
                "Nº",
                "Neighborhood",
                "MUNICIPIO",
                "estado",
                "zip",
                "DRIVER",
                "whatever",
            ],
            [
                "AB123456789BR",
                "Ana",
                "1199",
                "Rua A",
                "5",
                "Bairro",
                "Rio",
                "Rio de Janeiro",
                "20000-000",
                "Zé",
                "x",
            ],
        ],
        ",",
        "utf-8",
    )
    m = read_manifest(data, None, **LIMITS)
    (row,) = m.rows
    assert row.number == "5" and row.uf == "RJ" and row.deliverer == "Zé"
    assert m.columns["number"] == "Nº"
    assert "whatever" not in m.columns.values()


def test_single_column_file() -> None:
    m = read_manifest(b"rastreio\nAA123456785BR\n\nQQ1\n", "a.csv", **LIMITS)
    assert [(r.row, r.tracking_code) for r in m.rows] == [(2, "AA123456785BR"), (4, "QQ1")]
    assert m.total_rows == 2  # the blank row 3 is no row, but the numbering keeps it


def test_row_problems() -> None:
    rows = [
        ["rastreio", "cep", "uf", "nome"],
        ["", "01310-100", "SP", "sem código"],
        ["X1", "0131", "SP", ""],
        ["X2", "01310-100", "ZZ", ""],
        ["X3", "", "", "n" * 201],
        ["x 1", "", "", "repetido"],
        ["X4", "1234567", "", ""],  # Excel dropped the leading zero
        ["1.2345E+13", "", "", ""],
    ]
    m = read_manifest(_csv(rows, ";", "utf-8"), "a.csv", **LIMITS)
    got = {(p.row, p.column, p.code) for p in m.problems}
    assert got == {
        (2, "tracking_code", "MISSING_TRACKING_CODE"),
        (3, "cep", "INVALID_CEP"),
        (4, "uf", "INVALID_UF"),
        (5, "recipient_name", "VALUE_TOO_LONG"),
        (6, "tracking_code", "DUPLICATE_IN_FILE"),
        (8, "tracking_code", "SCIENTIFIC_NOTATION"),
    }
    assert {r.row for r in m.rows} == {7}  # rows with problems are not returned
    assert m.rows[0].cep == "01234-567"
    dup = next(p for p in m.problems if p.code == "DUPLICATE_IN_FILE")
    assert "linha 3" in dup.reason
    assert m.total_rows == 7


def test_xlsx_numbers_formulas_and_rows() -> None:
    data = _xlsx(
        [
            ["Código", "CEP", "Telefone", "Número", "Destinatário"],
            [12345678901234.0, 1310100, 11987654321.0, 12.0, "Ana"],
            ["AA123456785BR", "=A1", None, None, '=HYPERLINK("http://x")'],
            [None, None, None, None, None],
            [1e20, None, None, None, "muito grande"],
            [4.5, None, None, None, "decimal"],
            ["41234567890", None, None, None, "=1+1"],
        ]
    )
    m = read_manifest(data, "dia.xlsx", **LIMITS)
    (row,) = m.rows
    assert (row.row, row.tracking_code, row.cep, row.phone, row.number) == (
        2,
        "12345678901234",
        "01310-100",
        "11987654321",
        "12",
    )
    got = {(p.row, p.column, p.code) for p in m.problems}
    assert got == {
        (3, "cep", "FORMULA_NOT_ALLOWED"),
        (3, "recipient_name", "FORMULA_NOT_ALLOWED"),
        (5, "tracking_code", "NUMBER_PRECISION_LOST"),
        (6, "tracking_code", "NUMBER_NOT_A_CODE"),
        (7, "recipient_name", "FORMULA_NOT_ALLOWED"),
    }
    assert m.total_rows == 5


def test_xlsx_renamed_csv_is_read_as_xlsx() -> None:
    data = _xlsx([["tracking"], ["AA123456785BR"]])
    assert read_manifest(data, "dia.csv", **LIMITS).rows[0].tracking_code == "AA123456785BR"


def test_csv_formula_is_a_problem() -> None:
    m = read_manifest(b"rastreio,nome\nAA1,=cmd|' /C calc'!A0\n", "a.csv", **LIMITS)
    assert [p.code for p in m.problems] == ["FORMULA_NOT_ALLOWED"]


def _error(data: bytes, name: str | None = "a.csv", **limits: int) -> ManifestError:
    with pytest.raises(ManifestError) as raised:
        read_manifest(data, name, **{**LIMITS, **limits})
    assert raised.value.reason  # Portuguese for the operator
    # An upload's check refuses the same files the same way, before anything is stored.
    with pytest.raises(ManifestError) as checked:
        check_manifest(data, name, **{**LIMITS, **limits})
    assert (checked.value.code, checked.value.params) == (raised.value.code, raised.value.params)
    return raised.value


def test_the_uploads_check_counts_rows_and_leaves_their_problems_to_the_job() -> None:
    rows = [HEADER, ROWS[0], ["", "Sem código"], ["=1+1", "Fórmula"], [""] * 3, ROWS[1]]
    for data, name in ((_csv(rows, ";", "utf-8"), "a.csv"), (_xlsx(rows), "a.xlsx")):  # type: ignore[arg-type]
        whole = read_manifest(data, name, **LIMITS)
        assert len(whole.problems) == 2 and len(whole.rows) == 2
        assert check_manifest(data, name, **LIMITS) == whole.total_rows == 4


def test_pdf_renamed_csv() -> None:
    pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
    e = _error(pdf)
    assert (e.code, e.params["detected"]) == ("NOT_A_SPREADSHEET", "PDF")


def test_binary_junk() -> None:
    junk = bytes(range(256)) * 40
    assert _error(junk).code == "NOT_A_SPREADSHEET"


def test_zip_that_is_not_xlsx() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<x/>")
    assert _error(out.getvalue(), "a.xlsx").code == "NOT_A_SPREADSHEET"


def test_zip_bomb_disguised_as_xlsx() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (200 * 1024 * 1024))
    data = out.getvalue()
    assert len(data) < 1_000_000
    e = _error(data, "dia.xlsx")
    assert e.code == "UNSAFE_ARCHIVE"


def test_too_large_and_too_many_rows() -> None:
    data = _csv([["rastreio"], *[[f"C{i}"] for i in range(11)]], ",", "utf-8")
    assert _error(data, max_bytes=len(data) - 1).code == "FILE_TOO_LARGE"
    assert _error(data, max_rows=10).params["max"] == "10"
    assert read_manifest(data, None, max_bytes=len(data), max_rows=11).total_rows == 11


def test_no_tracking_column_and_empty() -> None:
    assert _error(b"nome;cidade\nAna;Rio\n").code == "NO_TRACKING_COLUMN"
    assert _error(b"").code == "EMPTY"
    assert _error(b"\r\n \r\n").code == "EMPTY"
    assert _error(b"rastreio;nome\r\n").code == "EMPTY"


def test_unclosed_quote() -> None:
    data = b'rastreio,nome\nA1,"Ana\n' + b"x" * 200_000
    assert _error(data).code == "NOT_A_SPREADSHEET"
