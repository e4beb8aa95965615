"""Reports read back with real readers: csv, openpyxl, pypdf."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from reports import (
    FORMATS,
    PackageLine,
    PayLine,
    RouteLine,
    RouteStopLine,
    SessionReport,
    content_type,
    extension,
    render,
)

T0 = datetime(2026, 3, 14, 11, 0, tzinfo=UTC)  # 08:00 in São Paulo


def _package(i: int, status: str = "DELIVERED", **kw: object) -> PackageLine:
    base: dict[str, object] = {
        "code": f"AA{i:09d}BR",
        "carrier": "CORREIOS",
        "status": status,
        "deliverer": "João Ñandú",
        "recipient": "Conceição Nguyễn",
        "address": "Rua São João, 12 - Centro",
        "picked_up_at": T0,
        "delivered_at": T0 + timedelta(hours=1) if status == "DELIVERED" else None,
        "failed_at": T0 + timedelta(hours=2) if status == "FAILED" else None,
        "failure_reason": "ausente" if status == "FAILED" else None,
        "has_proof": status == "DELIVERED",
    }
    base.update(kw)
    return PackageLine(**base)  # type: ignore[arg-type]


PAY = (
    PayLine(
        "João Ñandú", Decimal("100.00"), Decimal("2.35"), 3, Decimal("7.05"), Decimal("107.05")
    ),
    PayLine("Ana Lúcia", Decimal("80.10"), Decimal("1.10"), 1, Decimal("1.10"), Decimal("81.20")),
)


def _report(
    status: str = "COMPLETED", packages: tuple[PackageLine, ...] | None = None
) -> SessionReport:
    done = status in ("COMPLETED", "ARCHIVED")
    return SessionReport(
        session_id="8d6c7d0e-0000-4000-8000-000000000001",
        session_name="Sessão de março",
        status=status,
        created_at=T0 - timedelta(hours=1),
        started_at=T0,
        completed_at=T0 + timedelta(hours=3) if done else None,
        generated_at=T0 + timedelta(hours=4),
        packages=packages
        if packages is not None
        else (
            _package(1),
            _package(2, "FAILED"),
            _package(3, "PENDING", deliverer=None),
            _package(4, recipient="=cmd|' /C calc'!A0", address="+1 rua"),
        ),
        payroll=PAY if done else None,
        payroll_total=Decimal("188.25") if done else None,
    )


def _csv(report: SessionReport) -> list[list[str]]:
    data = render(report, "CSV")
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_csv_packages_and_exact_payroll() -> None:
    rows = _csv(_report())
    assert rows[0] == ["Relatório da sessão Sessão de março"]
    heading = rows.index(
        [
            "Código",
            "Transportadora",
            "Status",
            "Entregador",
            "Destinatário",
            "Endereço",
            "Coletado em",
            "Entregue em",
            "Falhou em",
            "Motivo da falha",
            "Comprovante",
        ]
    )
    first, failed, pending, hostile = rows[heading + 1 : heading + 5]
    assert first[:3] == ["AA000000001BR", "CORREIOS", "Entregue"]
    assert first[6:8] == ["14/03/2026 08:00", "14/03/2026 09:00"]  # São Paulo time
    assert first[10] == "Sim"
    assert (
        failed[2] == "Não entregue" and failed[9] == "ausente" and failed[8] == "14/03/2026 10:00"
    )
    assert pending[2] == "Pendente" and pending[3] == ""
    assert hostile[4] == "'=cmd|' /C calc'!A0" and hostile[5] == "'+1 rua"
    pay = rows.index(
        ["Entregador", "Salário base", "Comissão por entrega", "Entregas", "Comissão", "Total"]
    )
    assert rows[pay + 1] == ["João Ñandú", "100.00", "2.35", "3", "7.05", "107.05"]
    assert rows[pay + 3] == ["Total", "", "", "", "", "188.25"]


@pytest.mark.parametrize("status", ["OPEN", "ACTIVE", "PAUSED"])
def test_unfinished_session_says_so_first_and_has_no_payroll(status: str) -> None:
    report = _report(status)
    # Even if a caller passed a payroll, an unfinished session never shows one.
    report = SessionReport(**{**report.__dict__, "payroll": PAY, "payroll_total": Decimal("1")})
    rows = _csv(report)
    assert rows[0][0].startswith("RELATÓRIO PARCIAL") and "não está concluída" in rows[0][0]
    assert ["Folha de pagamento"] not in rows
    sheet = openpyxl.load_workbook(io.BytesIO(render(report, "XLSX"))).worksheets[0]
    assert str(sheet["A1"].value).startswith("RELATÓRIO PARCIAL")
    assert all(c.value != "Folha de pagamento" for row in sheet.iter_rows() for c in row)
    text = _pdf_text(render(report, "PDF"))
    assert text.splitlines()[0].startswith("RELATÓRIO PARCIAL")
    assert "Assinatura" not in text


def test_xlsx_types_money_exact_and_escaped() -> None:
    data = render(_report(), "XLSX")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Relatório da sessão Sessão de março"
    codes = next(r for r in values if r and r[0] == "AA000000001BR")
    assert codes[7] == datetime(2026, 3, 14, 9, 0)  # a date cell, local time
    hostile = next(r for r in values if r and r[0] == "AA000000004BR")
    assert hostile[4] == "'=cmd|' /C calc'!A0"
    total_row = next(r for r in values if r and r[0] == "Total")
    assert Decimal(str(total_row[5])) == Decimal("188.25")
    pay_cell = next(
        row
        for row in sheet.iter_rows()
        if row[0].value == "João Ñandú" and row[1].value is not None
    )
    assert pay_cell[1].number_format == "#,##0.00"
    # What is stored is the Decimal's text, not a float's: no 188.24999999.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<v>188.25</v>" in xml and "<v>2.35</v>" in xml
    assert "<f>" not in xml  # no formulas anywhere


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_pdf_names_totals_signatures_and_page_numbers() -> None:
    packages = tuple(_package(i, "DELIVERED" if i % 2 else "FAILED") for i in range(120))
    data = render(_report(packages=packages), "PDF")
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = len(reader.pages)
    assert pages >= 3  # the table broke across pages
    text = _pdf_text(data)
    assert text.splitlines()[0] == "Relatório da sessão Sessão de março"
    assert "Conceição Nguyễn" in text and "João Ñandú" in text  # accents and beyond Latin-1
    assert "R$ 107,05" in text and "R$ 188,25" in text
    assert "Assinatura: João Ñandú" in text and "Assinatura: Ana Lúcia" in text
    assert "Assinatura: Responsável pela sessão" in text
    assert f"Página {pages} de {pages}" in text
    assert "AA000000119BR" in text
    # The headings repeat on the pages the table runs over.
    assert reader.pages[1].extract_text().count("Destinatário") == 1


def test_formats() -> None:
    assert [extension(f) for f in FORMATS] == ["csv", "xlsx", "pdf"]
    assert content_type("pdf") == "application/pdf"
    assert content_type("CSV").startswith("text/csv")
    with pytest.raises(ValueError):
        render(_report(), "DOCX")


def test_empty_session() -> None:
    report = _report("OPEN", packages=())
    assert "Nenhum pacote." in _pdf_text(render(report, "PDF"))
    assert _csv(report)[-1] == [
        "Código",
        "Transportadora",
        "Status",
        "Entregador",
        "Destinatário",
        "Endereço",
        "Coletado em",
        "Entregue em",
        "Falhou em",
        "Motivo da falha",
        "Comprovante",
    ]


ROUTES = (
    RouteLine(
        deliverer="Ana Lúcia",
        stops=(
            RouteStopLine(1, "Rua São João, 12 - Centro", ("AA000000001BR",), T0, 2300, True),
            RouteStopLine(
                2,
                "Av. Paulista, 1000, 01310-100",
                ("AA000000002BR", "AA000000003BR"),
                T0 + timedelta(minutes=25),
                4150,
                False,
            ),
        ),
        distance_m=6450,
        duration_s=4800,
        optimized_at=T0,
    ),
)


def test_routes_in_every_format() -> None:
    report = SessionReport(**{**_report("ACTIVE").__dict__, "routes": ROUTES})
    rows = _csv(report)
    heading = rows.index(
        [
            "Entregador",
            "Parada",
            "Endereço",
            "Pacotes",
            "Códigos",
            "Previsão",
            "Distância (km)",
            "Situação",
        ]
    )
    assert rows[heading - 1] == ["Rotas"]
    assert rows[heading + 1] == [
        "Ana Lúcia",
        "1",
        "Rua São João, 12 - Centro",
        "1",
        "AA000000001BR",
        "14/03/2026 08:00",
        "2.30",
        "Concluída",
    ]
    assert rows[heading + 2][3:6] == ["2", "AA000000002BR, AA000000003BR", "14/03/2026 08:25"]
    assert rows[heading + 2][7] == "Aberta"
    sheet = openpyxl.load_workbook(io.BytesIO(render(report, "XLSX"))).worksheets[0]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    stop = next(r for r in values if r and r[0] == "Ana Lúcia" and r[1] == 2)
    assert stop[5] == datetime(2026, 3, 14, 8, 25) and Decimal(str(stop[6])) == Decimal("4.2")
    text = _pdf_text(render(report, "PDF"))
    assert "Rotas" in text and "Ana Lúcia: 2 paradas, 6,5 km, 1 h 20 min" in text
    assert "Av. Paulista, 1000, 01310-100" in text and "AA000000002BR, AA000000003BR" in text
    assert "4,2" in text and "Concluída" in text and "Aberta" in text


def test_no_routes_no_section() -> None:
    assert ["Rotas"] not in _csv(_report())
    assert "Rotas" not in _pdf_text(render(_report(), "PDF"))
