"""CSV and XLSX: the same rows, one as text (`;`, UTF-8 with BOM: what a Brazilian Excel opens
with a double click), one as typed cells (times as dates, money as exact numbers)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from reports import text
from reports.cells import escape_cell
from reports.model import PackageLine, PayLine, RouteLine, RouteStopLine, SessionReport

Value = str | int | Decimal | datetime | None


def _package_row(line: PackageLine) -> list[Value]:
    return [
        line.code,
        line.carrier,
        text.status_text(line),
        line.deliverer,
        line.recipient,
        line.address,
        text.local(line.picked_up_at),
        text.local(line.delivered_at),
        text.local(line.failed_at),
        line.failure_reason,
        text.proof_text(line),
    ]


def _pay_row(line: PayLine) -> list[Value]:
    return [
        line.deliverer,
        text.cents(line.base_salary),
        text.cents(line.commission_per_delivery),
        line.deliveries,
        text.cents(line.commission),
        text.cents(line.total),
    ]


def _stop_row(route: RouteLine, stop: RouteStopLine) -> list[Value]:
    return [
        route.deliverer,
        stop.sequence,
        stop.address,
        len(stop.codes),
        ", ".join(stop.codes),
        text.local(stop.eta),
        text.km_plain(stop.distance_m),
        text.stop_state(stop),
    ]


def _sections(report: SessionReport) -> Iterator[tuple[str, list[Value]]]:
    """(kind, row): kind says how a row is styled; the CSV ignores it."""
    yield "title", [text.first_line(report)]
    for label, value in text.meta(report):
        yield "meta", [label, value]
    yield "blank", []
    yield "section", ["Pacotes"]
    yield "heading", list(text.PACKAGE_HEADINGS)
    for line in report.packages:
        yield "row", _package_row(line)
    if report.routes:
        yield "blank", []
        yield "section", ["Rotas"]
        yield "heading", list(text.ROUTE_HEADINGS)
        for route in report.routes:
            for stop in route.stops:
                yield "row", _stop_row(route, stop)
    payroll = text.payroll_of(report)
    if payroll is None:
        return
    lines, total = payroll
    yield "blank", []
    yield "section", ["Folha de pagamento"]
    yield "heading", list(text.PAY_HEADINGS)
    for pay in lines:
        assert isinstance(pay, PayLine)
        yield "pay", _pay_row(pay)
    yield "total", ["Total", None, None, None, None, text.cents(total)]


def _csv_text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, Decimal):
        return text.money_plain(value)
    return escape_cell(str(value))


def csv_bytes(report: SessionReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for _, row in _sections(report):
        writer.writerow([_csv_text(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def xlsx_bytes(report: SessionReport) -> bytes:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = openpyxl.Workbook(write_only=True)
    sheet: Any = book.create_sheet("Relatório")
    bold = Font(bold=True)
    big = Font(bold=True, size=14)
    widths = (18, 16, 14, 24, 28, 44, 17, 17, 17, 30, 12)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = width

    def cell(value: Value, kind: str) -> Any:
        if isinstance(value, str):
            value = escape_cell(value)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=None)  # Excel has no zones: local time, said in "Horários"
        c = WriteOnlyCell(sheet, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # openpyxl would take a leading "=" for a formula
        if isinstance(value, datetime):
            c.number_format = "dd/mm/yyyy hh:mm"
        elif isinstance(value, Decimal):
            c.number_format = "#,##0.00"
        if kind == "title":
            c.font = big
        elif kind in ("heading", "section", "total"):
            c.font = bold
        return c

    for kind, row in _sections(report):
        sheet.append([cell(v, kind) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
