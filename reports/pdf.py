"""The PDF a manager prints and signs: a summary, the packages' table (its headings repeated on
every page it runs over), each deliverer's route in driving order, the payroll with a
signature line per deliverer, page numbers.

The core PDF fonts know only Windows-1252: a recipient named "Nguyễn" or "Łukasz" would
not print. DejaVu Sans Condensed (reports/fonts/, with its licence) covers them; fpdf2
embeds only the glyphs used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from reports import text
from reports.model import PackageLine, PayLine, RouteLine, SessionReport

FONTS = Path(__file__).parent / "fonts"
FAMILY = "DejaVu"
_PACKAGE_WIDTHS = (30, 20, 22, 32, 36, 62, 25, 14, 36)
_STOP_WIDTHS = (14, 90, 16, 88, 28, 22, 19)


class _Document(FPDF):
    def __init__(self, report: SessionReport) -> None:
        super().__init__(orientation="landscape", unit="mm", format="A4")
        self.report = report
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSansCondensed.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSansCondensed-Bold.ttf"))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_title(text.title(report))
        self.set_creator("Bipa")
        self.alias_nb_pages()

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FAMILY, "", 8)
        self.cell(0, 5, text.title(self.report), new_x="LMARGIN", new_y="NEXT")
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FAMILY, "", 8)
        generated = text.when_text(self.report.generated_at)
        self.cell(0, 5, f"Gerado em {generated} (horário de Brasília)", align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Página {self.page_no()} de {{nb}}", align="R")


def _package_cells(line: PackageLine) -> list[str]:
    when = line.delivered_at or line.failed_at
    return [
        line.code,
        text.status_text(line),
        line.carrier or "",
        line.deliverer or "",
        line.recipient or "",
        line.address or "",
        text.when_text(when),
        text.proof_text(line),
        line.failure_reason or "",
    ]


def _summary(pdf: _Document, report: SessionReport) -> None:
    pdf.set_font(FAMILY, "B", 14)
    pdf.multi_cell(0, 7, text.first_line(report), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, "", 9)
    for label, value in text.meta(report):
        pdf.cell(35, 5, f"{label}:")
        pdf.cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    counts: dict[str, int] = {}
    for line in report.packages:
        counts[text.status_text(line)] = counts.get(text.status_text(line), 0) + 1
    if counts:
        summary = ", ".join(f"{name}: {n}" for name, n in sorted(counts.items()))
        pdf.cell(35, 5, "Por status:")
        pdf.cell(0, 5, summary, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _heading(pdf: _Document, label: str) -> None:
    pdf.set_font(FAMILY, "B", 11)
    pdf.cell(0, 7, label, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 7.5)


_PACKAGE_HEADINGS = (
    "Código",
    "Status",
    "Transp.",
    "Entregador",
    "Destinatário",
    "Endereço",
    "Finalizado em",
    "Comprov.",
    "Motivo da falha",
)
_ROW = 4.4


def _width(pdf: _Document, value: str) -> float:
    """fpdf2's get_string_width, without its per-call set-up (a third of the time here)."""
    font: Any = pdf.current_font
    widths = font.cw
    units = sum(widths[ord(c)] if ord(c) < len(widths) else 500 for c in value)
    return float(units * pdf.font_size_pt * 0.001 / pdf.k)


def _fit(pdf: _Document, value: str, width: float) -> str:
    """The text cut to its column, with an ellipsis: one line per package keeps 10,000 of
    them to seconds (fpdf2's wrapping table takes 40 s) and the table easy to follow."""
    room = width - 1.6
    if _width(pdf, value) <= room:
        return value
    low, high = 0, len(value)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(pdf, value[:middle] + "…") <= room:
            low = middle
        else:
            high = middle - 1
    return value[:low] + "…"


def _table_row(
    pdf: _Document,
    cells: Sequence[str],
    *,
    bold: bool = False,
    widths: Sequence[float] = _PACKAGE_WIDTHS,
) -> None:
    # rect() and text() rather than cell(): cell() costs 0.2 ms, and a row has nine.
    pdf.set_font(FAMILY, "B" if bold else "", 7.5)
    x, y = pdf.l_margin, pdf.get_y()
    for value, width in zip(cells, widths, strict=True):
        pdf.rect(x, y, width, _ROW, style="DF" if bold else "D")
        if value:
            pdf.text(x + 0.8, y + _ROW - 1.2, _fit(pdf, value, width))
        x += width
    pdf.set_y(y + _ROW)


def _packages(pdf: _Document, report: SessionReport) -> None:
    _heading(pdf, "Pacotes")
    if not report.packages:
        pdf.cell(0, 5, "Nenhum pacote.", new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_fill_color(230, 230, 230)
    _table_row(pdf, _PACKAGE_HEADINGS, bold=True)
    for line in report.packages:
        if pdf.will_page_break(_ROW):
            pdf.add_page()
            _table_row(pdf, _PACKAGE_HEADINGS, bold=True)  # the headings on every page
        _table_row(pdf, _package_cells(line))


# The PDF prints one deliverer's route per table: the deliverer is its title, not a column.
_STOP_HEADINGS = text.ROUTE_HEADINGS[1:]


def _route(pdf: _Document, route: RouteLine) -> None:
    if pdf.will_page_break(3 * _ROW + 7):
        pdf.add_page()
    pdf.set_font(FAMILY, "B", 9)
    pdf.cell(0, 6, text.route_summary(route), new_x="LMARGIN", new_y="NEXT")
    _table_row(pdf, _STOP_HEADINGS, bold=True, widths=_STOP_WIDTHS)
    for stop in route.stops:
        if pdf.will_page_break(_ROW):
            pdf.add_page()
            _table_row(pdf, _STOP_HEADINGS, bold=True, widths=_STOP_WIDTHS)
        cells = [
            str(stop.sequence),
            stop.address or "",
            str(len(stop.codes)),
            ", ".join(stop.codes),
            text.when_text(stop.eta),
            text.km(stop.distance_m),
            text.stop_state(stop),
        ]
        _table_row(pdf, cells, widths=_STOP_WIDTHS)
    pdf.ln(2)


def _routes(pdf: _Document, report: SessionReport) -> None:
    if not report.routes:
        return
    pdf.ln(4)
    if pdf.will_page_break(30):
        pdf.add_page()
    _heading(pdf, "Rotas")
    pdf.set_fill_color(230, 230, 230)
    for route in report.routes:
        _route(pdf, route)


def _payroll(pdf: _Document, report: SessionReport) -> None:
    payroll = text.payroll_of(report)
    if payroll is None:
        return
    lines, total = payroll
    pdf.ln(4)
    if pdf.will_page_break(40):
        pdf.add_page()
    _heading(pdf, "Folha de pagamento")
    pdf.set_font(FAMILY, "", 9)
    widths = (80, 35, 40, 22, 35, 35)
    style = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    with pdf.table(
        col_widths=widths,
        width=sum(widths),
        align="LEFT",
        headings_style=style,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        line_height=5,
    ) as table:
        table.row(text.PAY_HEADINGS)
        for pay in lines:
            assert isinstance(pay, PayLine)
            table.row(
                [
                    pay.deliverer,
                    text.money_brl(pay.base_salary),
                    text.money_brl(pay.commission_per_delivery),
                    str(pay.deliveries),
                    text.money_brl(pay.commission),
                    text.money_brl(pay.total),
                ]
            )
        table.row(["Total", "", "", "", "", text.money_brl(total)], style=style)
    _signatures(pdf, [p for p in lines if isinstance(p, PayLine)])


def _signature(pdf: _Document, name: str, detail: str) -> None:
    # One block never splits across pages: a line without its name is no signature.
    if pdf.will_page_break(22):
        pdf.add_page()
    pdf.ln(12)
    y = pdf.get_y()
    pdf.line(pdf.l_margin, y, pdf.l_margin + 110, y)
    pdf.line(pdf.l_margin + 130, y, pdf.l_margin + 180, y)
    pdf.ln(1)
    pdf.set_font(FAMILY, "", 9)
    pdf.cell(130, 5, f"Assinatura: {name}")
    pdf.cell(50, 5, "Data", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 8)
    pdf.cell(0, 4, detail, new_x="LMARGIN", new_y="NEXT")


def _signatures(pdf: _Document, lines: list[PayLine]) -> None:
    pdf.ln(4)
    _heading(pdf, "Assinaturas")
    pdf.set_font(FAMILY, "", 8.5)
    pdf.multi_cell(
        0,
        4.5,
        "Declaro ter recebido o valor abaixo do meu nome referente às entregas desta sessão.",
        align="L",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    for pay in lines:
        detail = f"Total a receber: {text.money_brl(pay.total)} ({pay.deliveries} entregas)"
        _signature(pdf, pay.deliverer, detail)
    _signature(pdf, "Responsável pela sessão", "Gestor(a) que confere e paga")


def pdf_bytes(report: SessionReport) -> bytes:
    pdf = _Document(report)
    pdf.add_page()
    _summary(pdf, report)
    _packages(pdf, report)
    _routes(pdf, report)
    _payroll(pdf, report)
    out: Any = pdf.output()
    return bytes(out)
